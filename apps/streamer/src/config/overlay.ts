import type { ConfigIssue } from '../errors.js';
import {
  convertSetting,
  describeOrigin,
  type Origin,
  type Setting,
  type SettingValue,
  settingName,
} from './settings.js';

type Path = (string | number)[];

/** The original's default sync_rate (and anything above it) means no limit. */
const NO_RATE_LIMIT = 1_000_000_000;

/** What the settings of the original's style did to a configuration in the YAML file's shape. */
export interface Overlay {
  /** Problems, each named by where its value came from. */
  issues: ConfigIssue[];
  /** Things to say once at startup (ignored settings). */
  notices: string[];
  /** `app.map_file`: the map to read as `databases`. */
  mapFile: { path: string; from: string } | undefined;
  /** `app.default_schema`: the schema of map table names written without one. */
  defaultSchema: string | undefined;
  /** The source of a YAML path's value, for the issues found later (longest prefix wins). */
  originOf(path: Path): string | undefined;
  /** A setting whose value was refused writes there: what the schema says of it repeats that. */
  refused(path: Path): boolean;
}

/**
 * Writes settings into `raw` (the YAML configuration's shape), in the order
 * given: file, then environment, then flags, so the last value of a setting
 * wins. Only the winning value of each setting is checked.
 */
export function overlaySettings(raw: Record<string, unknown>, values: SettingValue[]): Overlay {
  const winner = new Map<Setting, SettingValue>();
  for (const v of values) winner.set(v.setting, v);

  const issues: ConfigIssue[] = [];
  const ignored: string[] = [];
  const origins = new Map<string, string>();
  const refused = new Set<string>();
  let mapFile: Overlay['mapFile'];
  let defaultSchema: string | undefined;

  for (const { setting, value, origin } of winner.values()) {
    const from = describeOrigin(origin, setting);
    if (!setting.target) {
      ignored.push(`${settingName(setting)} (${shortOrigin(origin)})`);
      continue;
    }
    const converted = convertSetting(setting, value);
    if (!converted.ok) {
      issues.push({ path: from, message: converted.message });
      refused.add(setting.target.join('.'));
      continue;
    }
    const target = setting.target;
    origins.set(target.join('.'), from);
    const v = converted.value;
    if (target[0] === 'app' && target[1] === 'map_file') {
      mapFile = { path: v as string, from };
    } else if (target[0] === 'app' && target[1] === 'default_schema') {
      defaultSchema = v as string;
    } else if (target[0] === 'map') {
      // An empty map_database is the original's declarative mode.
      if (v !== '') raw.map = { store: 'destination', import_sqlite: v };
      origins.set('map', from);
    } else if (
      target[0] === 'sync' &&
      target[1] === 'rows_per_second' &&
      (v as number) >= NO_RATE_LIMIT
    ) {
      const sync = raw.sync as Record<string, unknown> | undefined;
      if (sync) delete sync.rows_per_second;
    } else {
      setIn(raw, target, v);
    }
  }

  const notices: string[] = [];
  if (ignored.length > 0)
    notices.push(`settings with no meaning in this streamer, ignored: ${ignored.join(', ')}`);
  return {
    issues,
    notices,
    mapFile,
    defaultSchema,
    originOf(path) {
      for (let n = path.length; n > 0; n--) {
        const from = origins.get(path.slice(0, n).join('.'));
        if (from !== undefined) return from;
      }
      return undefined;
    },
    refused: (path) => path.some((_, n) => refused.has(path.slice(0, n + 1).join('.'))),
  };
}

function shortOrigin(origin: Origin): string {
  switch (origin.kind) {
    case 'file':
      return `${origin.file}${origin.line === undefined ? '' : ` line ${origin.line}`}`;
    case 'env':
      return origin.name;
    case 'flag':
      return `--${origin.name}`;
  }
}

function setIn(obj: Record<string, unknown>, path: Path, value: unknown): void {
  let at = obj;
  for (const key of path.slice(0, -1)) {
    const next = at[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) at[key] = {};
    at = at[key] as Record<string, unknown>;
  }
  at[path[path.length - 1] as string] = value;
}
