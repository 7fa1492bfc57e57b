import { readFile } from 'node:fs/promises';
import type { TableRef } from '@kuvasz/core';
import { ConfigError } from '../errors.js';
import type { TableRules } from '../rules/table-rules.js';
import { assembleConfig, whyUnreadable } from './assemble.js';
import type { ConfigFile } from './schema.js';
import type { SettingFlag } from './settings.js';
import { readTomlDraft } from './toml.js';
import { readYamlDoc } from './yaml-doc.js';

export type TargetType = 'clone' | 'append' | 'history';

export interface TableConfig {
  /** The key as written in the file. */
  key: string;
  source: TableRef;
  target: TableRef;
  type: TargetType;
  partitionsRegex: RegExp | undefined;
  /** A column added to the source table: left out, or added to the target. */
  schemaChanges: 'ignore' | 'add_columns';
  /** `filter` and `set` expressions, parsed; undefined when the table has neither. */
  rules: TableRules | undefined;
}

export interface SourceConfig {
  database: string;
  sid: string;
  url: string;
  tables: TableConfig[];
  /** Read in pgoutput's binary mode where the source allows it (`apply.binary`, default false). */
  binary?: boolean;
}

export interface Config {
  file: string;
  destination: { url: string; schema: string; metadataSchema: string };
  /** One entry per (database, url): what the streamer runs. */
  sources: SourceConfig[];
  apply: { workers: number; batchRows: number; flushIntervalMs: number; shutdownTimeoutMs: number };
  sync: {
    parallelTables: number;
    /** Sources creating their slot and copying at once (process-wide). */
    parallelSources: number;
    /** Shared by every initial copy of the process; undefined: no limit. */
    rate: { rowsPerSecond: number; burst: number } | undefined;
  };
  /** The listener of /metrics, /healthz, /readyz, /api/status and the admin API; undefined: none. */
  http:
    | {
        host: string;
        port: number;
        timeouts?: { readMs?: number; readHeaderMs?: number; writeMs?: number; idleMs?: number };
      }
    | undefined;
  /** CORS headers of the HTTP answers; undefined: none at all. */
  cors:
    | {
        allowedOrigins: string[];
        allowMethods: string[];
        allowHeaders: string[];
        allowCredentials: boolean;
        maxAgeSeconds: number;
      }
    | undefined;
  /** The admin API's login; no built-in password or key (the original ships both). */
  auth: { adminPasswordHash: string | undefined; jwtKey: string | undefined; ttlSeconds: number };
  /** Where the map lives: the file (`databases`, app.map_file), or the destination (the original's database mode). */
  map: { mode: 'file' } | { mode: 'database'; sqliteImport: string | undefined };
  log: { level: ConfigFile['log']['level']; format: 'json' | 'pretty' | undefined };
  /** Sharing the sources with the other instances (docs/fleet.md); undefined: this process streams every source. */
  fleet:
    | { instanceId: string; leaseSeconds: number; renewSeconds: number; takePerRound: number }
    | undefined;
  /** Passwords of every configured URL, the admin password hash and the JWT key, for redaction. */
  secrets: string[];
  /** Said once at info level at startup: URL parameters stripped, settings ignored. */
  notices: string[];
}

export interface LoadOptions {
  /** Destination URL from the command line; required for a bare map file. */
  destination?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** `--<section>.<param>=value` flags, over the file and the environment. */
  flags?: readonly SettingFlag[];
}

export type ConfigFormat = 'yaml' | 'toml';

/** TOML for `*.toml` (the original's kuvasz-streamer.toml), YAML otherwise. */
export function formatOf(file: string): ConfigFormat {
  return /\.toml$/i.test(file) ? 'toml' : 'yaml';
}

/** Reads, parses and validates a configuration file, reporting every problem at once. */
export async function loadConfig(
  file: string,
  options: LoadOptions & { format?: ConfigFormat } = {},
): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err: unknown) {
    throw new ConfigError(file, [
      { path: '', message: `cannot read the file (${whyUnreadable(err)})` },
    ]);
  }
  return (options.format ?? formatOf(file)) === 'toml'
    ? parseTomlConfig(text, file, options)
    : parseConfig(text, file, options);
}

/** The YAML configuration, or a bare map file (the original's map.yaml) with the destination given apart. */
export function parseConfig(text: string, file: string, options: LoadOptions = {}): Config {
  const doc = readYamlDoc(text, file);
  // A map file's paths are reported as written: `[0].urls...`, not `databases[0]...`.
  const raw = doc.isList ? { databases: doc.value } : { ...(doc.value as Record<string, unknown>) };
  return assembleConfig(
    {
      file,
      raw,
      where: (path) => doc.where(doc.isList && path[0] === 'databases' ? path.slice(1) : path),
      fileSettings: [],
      notices: [],
      isMapFile: doc.isList,
      defaultMapFile: undefined,
    },
    options,
  );
}

/** The original's kuvasz-streamer.toml, with its map file (app.map_file). */
export function parseTomlConfig(text: string, file: string, options: LoadOptions = {}): Config {
  return assembleConfig(readTomlDraft(text, file), options);
}
