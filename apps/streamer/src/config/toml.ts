import { parse, TomlError } from 'smol-toml';
import { ConfigError } from '../errors.js';
import type { Draft } from './assemble.js';
import { findSetting, SETTINGS, type SettingValue, settingName } from './settings.js';
import { formatPath, type Path } from './yaml-doc.js';

/** The original's default app.map_file, relative to the current directory. */
export const DEFAULT_MAP_FILE = 'map.yaml';

/** The listener when a TOML file configures none (the original listens on every interface, ":8000"). */
export const DEFAULT_TOML_LISTEN = '127.0.0.1:8000';

/**
 * A kuvasz-streamer.toml written for the original: its settings, each with
 * its line, for the same pipeline as the YAML file. Keys that are not
 * settings of the original are named in a notice, as the ones with no
 * meaning here are; a TOML syntax error is a ConfigError with its line.
 */
export function readTomlDraft(text: string, file: string): Draft {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err: unknown) {
    if (err instanceof TomlError) {
      throw new ConfigError(file, [
        {
          path: `${file} line ${err.line}, column ${err.column}`,
          message: `TOML: ${err.message.replace(/^Invalid TOML document: /, '').split('\n')[0]}`,
        },
      ]);
    }
    throw err;
  }
  const lines = keyLines(text);
  const fileSettings: SettingValue[] = [];
  const unknown: string[] = [];
  for (const [section, params] of Object.entries(doc)) {
    if (!isTable(params)) {
      unknown.push(`${section} (line ${lines.get(section) ?? '?'})`);
      continue;
    }
    for (const [param, value] of Object.entries(params)) {
      const setting = findSetting(section, param);
      const line = lines.get(`${section}.${param}`);
      if (!setting || isTable(value)) {
        unknown.push(`${section}.${param}${line === undefined ? '' : ` (line ${line})`}`);
        continue;
      }
      fileSettings.push({ setting, value, origin: { kind: 'file', file, line } });
    }
  }
  const notices: string[] = [];
  if (unknown.length > 0)
    notices.push(
      `${file}: unknown settings, ignored (neither this streamer's nor the original's; a typo?): ${unknown.join(', ')}`,
    );
  return {
    file,
    raw: { destination: {}, http: { listen: DEFAULT_TOML_LISTEN } },
    where: (path) => `${file}: ${settingAt(path)}`,
    fileSettings,
    notices,
    isMapFile: false,
    defaultMapFile: DEFAULT_MAP_FILE,
  };
}

function isTable(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

/** The original's name of a path of the YAML shape (`destination.url` is `database.url`). */
function settingAt(path: Path): string {
  const key = path.join('.');
  const s = SETTINGS.find((x) => x.target && key.startsWith(x.target.join('.')));
  return s ? settingName(s) : formatPath(path);
}

/**
 * The line of each `section.key` of a TOML text: table headers and
 * (dotted) keys, as TOML writes them. Only used to name lines in messages.
 */
function keyLines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  const bare = String.raw`[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'`;
  const dotted = new RegExp(String.raw`^\s*((?:${bare})(?:\s*\.\s*(?:${bare}))*)\s*`);
  const unquote = (k: string) => k.split(/\s*\.\s*/).map((p) => p.replace(/^["']|["']$/g, ''));
  let table: string[] = [];
  text.split('\n').forEach((line, i) => {
    const header = /^\s*\[\s*([^\][]+?)\s*\]\s*(#.*)?$/.exec(line);
    if (header?.[1]) {
      table = unquote(header[1]);
      const name = table.join('.');
      if (!out.has(name)) out.set(name, i + 1);
      return;
    }
    const key = dotted.exec(line);
    if (key?.[1] && line.slice(key[0].length).startsWith('=')) {
      const name = [...table, ...unquote(key[1])].join('.');
      if (!out.has(name)) out.set(name, i + 1);
    }
  });
  return out;
}
