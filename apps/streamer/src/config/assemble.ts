import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { expandEnv } from './env.js';
import type { Config, LoadOptions } from './load.js';
import { normalize } from './normalize.js';
import { overlaySettings } from './overlay.js';
import { configFileSchema } from './schema.js';
import { envSettings, flagSettings, type SettingValue } from './settings.js';
import { sourceNameIssues } from './source-names.js';
import { type Path, readYamlDoc } from './yaml-doc.js';

/** A configuration read from one file, in the YAML file's shape, before the overrides. */
export interface Draft {
  /** The file, as named in messages. */
  file: string;
  raw: Record<string, unknown>;
  /** Where a path of `raw` is in the file, e.g. `destination.url (line 3)`. */
  where(path: Path): string;
  /** Settings the file itself gave in the original's style (a TOML file). */
  fileSettings: SettingValue[];
  notices: string[];
  /** The file is a bare list of databases (a map file). */
  isMapFile: boolean;
  /** The map to read when no app.map_file is set (the original's default `map.yaml`). */
  defaultMapFile: string | undefined;
}

/**
 * One pipeline for every file format: the file's settings, then the
 * environment's `KUVASZ_<section>_<param>`, then the `--<section>.<param>`
 * flags (later wins), then `--destination`; `${VAR}` expansion; the one zod
 * schema; normalization. Every problem is reported at once, named by where
 * its value came from.
 */
export function assembleConfig(draft: Draft, options: LoadOptions): Config {
  const env = options.env ?? process.env;
  const raw = draft.raw;
  const overlay = overlaySettings(raw, [
    ...draft.fileSettings,
    ...envSettings(env),
    ...flagSettings(options.flags ?? []),
  ]);
  const issues: ConfigIssue[] = [...overlay.issues];
  const notices = [...draft.notices, ...overlay.notices];

  // The map: app.map_file (or the TOML file's default), unless it lives in the destination.
  let mapWhere: ((path: Path) => string) | undefined;
  const databaseMode = (raw.map as { store?: string } | undefined)?.store === 'destination';
  const mapFile =
    overlay.mapFile ??
    (draft.defaultMapFile
      ? {
          path: draft.defaultMapFile,
          from: `${draft.file}: app.map_file (not set; the default is ${draft.defaultMapFile})`,
        }
      : undefined);
  if (mapFile && databaseMode) {
    if (overlay.mapFile)
      notices.push(
        `app.map_file (${mapFile.path}) is ignored: app.map_database is set, the map is kept in the destination`,
      );
  } else if (mapFile) {
    const read = readMapFile(mapFile.path);
    if ('problem' in read) {
      issues.push({ path: mapFile.from, message: read.problem });
    } else {
      raw.databases = read.value;
      mapWhere = (path) => `${mapFile.path}: ${read.where(path.slice(1))}`;
    }
  }

  if (options.destination) {
    const dest = (raw.destination ?? {}) as Record<string, unknown>;
    raw.destination = { ...dest, url: options.destination };
  }

  const where = (path: Path): string => {
    if (path[0] === 'destination' && path[1] === 'url' && options.destination)
      return 'flag --destination';
    const from = overlay.originOf(path);
    if (from !== undefined) return from;
    if (path[0] === 'databases' && mapWhere) return mapWhere(path);
    return draft.where(path);
  };

  const envIssues: { path: Path; message: string }[] = [];
  const expanded = expandEnv(raw, env, [], envIssues);
  for (const i of envIssues) issues.push({ path: where(i.path), message: i.message });

  const destUrl = (raw.destination as { url?: unknown } | undefined)?.url;
  if (draft.isMapFile && !destUrl) {
    issues.push({
      path: '',
      message:
        'a map file (a bare list of databases) needs the destination: add --destination <url>',
    });
  }

  // Before the schema: zod skips an object's refinements when one of its fields is invalid.
  for (const i of sourceNameIssues(expanded))
    issues.push({ path: where(i.path), message: i.message });
  const parsed = configFileSchema.safeParse(expanded);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // Reported above, in the map file's words.
      if (draft.isMapFile && issue.path[0] === 'destination') continue;
      if (overlay.refused(issue.path as Path)) continue;
      issues.push({ path: where(issue.path as Path), message: describeIssue(issue) });
    }
  }
  if (issues.length > 0 || !parsed.success) throw new ConfigError(draft.file, dedupe(issues));

  const normalized = normalize(parsed.data, {
    file: draft.file,
    defaultSchema: overlay.defaultSchema ?? 'public',
    notices,
  });
  if (normalized.issues.length > 0)
    throw new ConfigError(
      draft.file,
      normalized.issues.map((i) => ({ path: where(i.path), message: i.message })),
    );
  return normalized.config;
}

function readMapFile(
  path: string,
): { value: unknown; where: (path: Path) => string } | { problem: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err: unknown) {
    return { problem: `cannot read the map ${path} (${whyUnreadable(err)})` };
  }
  try {
    const doc = readYamlDoc(text, path);
    if (!doc.isList)
      return { problem: `${path}: expected a list of databases, as in the original's map.yaml` };
    return { value: doc.value, where: (p) => doc.where(p) || '(top level)' };
  } catch (err: unknown) {
    if (err instanceof ConfigError)
      return { problem: err.issues.map((i) => `${path} ${i.path}: ${i.message}`).join('; ') };
    throw err;
  }
}

export function whyUnreadable(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code === 'ENOENT'
    ? 'no such file'
    : e.code === 'EACCES'
      ? 'permission denied'
      : e.code === 'EISDIR'
        ? 'a directory'
        : e.message;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_type':
      if (/received undefined$/.test(issue.message)) return 'required, not set';
      return issue.message.replace(/^Invalid input: /, '');
    default:
      return issue.message.replace(/^Invalid input: /, '');
  }
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.path}\u0000${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
