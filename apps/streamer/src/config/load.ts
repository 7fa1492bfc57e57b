import { readFile } from 'node:fs/promises';
import { displayName, libpqUrl, type TableRef, tableKey } from '@kuvasz/core';
import { kuvaszObjectName } from '@kuvasz/replication';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { expandEnv } from './env.js';
import { parseQualifiedName } from './names.js';
import { type ConfigFile, configFileSchema } from './schema.js';
import { passwordsIn } from './secrets.js';

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
}

export interface SourceConfig {
  database: string;
  sid: string;
  url: string;
  tables: TableConfig[];
}

export interface Config {
  file: string;
  destination: { url: string; schema: string; metadataSchema: string };
  /** One entry per (database, url): what the streamer runs. */
  sources: SourceConfig[];
  apply: { workers: number; batchRows: number; flushIntervalMs: number; shutdownTimeoutMs: number };
  sync: { parallelTables: number };
  http: { host: string; port: number } | undefined;
  log: { level: ConfigFile['log']['level']; format: 'json' | 'pretty' | undefined };
  /** Passwords of every configured URL, for redaction. */
  secrets: string[];
}

export interface LoadOptions {
  /** Destination URL from the command line; required for a bare map file. */
  destination?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

type Path = (string | number)[];

function formatPath(path: Path): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

/** Parses and validates a configuration, reporting every problem at once. */
export async function loadConfig(file: string, options: LoadOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err: unknown) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new ConfigError(file, [{ path: '', message: `cannot read the file (${why})` }]);
  }
  return parseConfig(text, file, options);
}

export function parseConfig(text: string, file: string, options: LoadOptions = {}): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        return {
          path: `line ${pos.line}, column ${pos.col}`,
          message: `YAML: ${e.message.split('\n')[0]}`,
        };
      }),
    );
  }
  const isMapFile = isSeq(doc.contents);
  if (!isMapFile && !isMap(doc.contents)) {
    throw new ConfigError(file, [
      {
        path: '',
        message:
          'expected a mapping with destination and databases, or a kuvasz-streamer map file (a list of databases)',
      },
    ]);
  }

  // A map file's paths are reported as written: `[0].urls...`, not `databases[0]...`.
  const docPath = (path: Path): Path =>
    isMapFile && path[0] === 'databases' ? path.slice(1) : path;
  const where = (path: Path): string => {
    const p = docPath(path);
    const node = doc.getIn(p, true) as { range?: [number, number, number] } | undefined;
    const offset = node?.range?.[0];
    const shown = isMapFile ? formatPath(p) || '(top level)' : formatPath(p);
    if (offset === undefined) return shown;
    return `${shown} (line ${lines.linePos(offset).line})`;
  };

  let raw: unknown = doc.toJS();
  if (isMapFile) {
    raw = { destination: { url: options.destination ?? '' }, databases: raw };
  } else if (options.destination) {
    const obj = raw as Record<string, unknown>;
    const dest = (obj.destination ?? {}) as Record<string, unknown>;
    raw = { ...obj, destination: { ...dest, url: options.destination } };
  }

  const envIssues: { path: Path; message: string }[] = [];
  const expanded = expandEnv(raw, options.env ?? process.env, [], envIssues);
  const issues: ConfigIssue[] = envIssues.map((i) => ({ path: where(i.path), message: i.message }));

  if (isMapFile && !options.destination) {
    issues.push({
      path: '',
      message:
        'a map file (a bare list of databases) needs the destination: add --destination <url>',
    });
  }

  for (const i of sourceNameIssues(expanded))
    issues.push({ path: where(i.path), message: i.message });
  const parsed = configFileSchema.safeParse(expanded);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // Already said above, with the fix.
      if (isMapFile && !options.destination && issue.path.join('.') === 'destination.url') continue;
      issues.push({ path: where(issue.path as Path), message: describeIssue(issue) });
    }
  }
  if (issues.length > 0 || !parsed.success) throw new ConfigError(file, dedupe(issues));

  const cfg = parsed.data;
  const normalized = normalize(cfg, file);
  if (normalized.issues.length > 0)
    throw new ConfigError(
      file,
      normalized.issues.map((i) => ({ path: where(i.path), message: i.message })),
    );
  return normalized.config;
}

/**
 * Duplicate sids of a database, and sources whose slot and publication names
 * collide, read from the raw document: zod skips an object's refinements when
 * any of its fields is invalid, and these must be reported with the rest.
 */
function sourceNameIssues(raw: unknown): { path: Path; message: string }[] {
  const issues: { path: Path; message: string }[] = [];
  const dbs = (raw as { databases?: unknown } | null)?.databases;
  if (!Array.isArray(dbs)) return issues;
  // Slot and publication names are lower-cased, sanitized and cut to 63 bytes:
  // two sources may end up with the same one.
  const names = new Map<string, { db: number; sid: string }>();
  dbs.forEach((db: unknown, di) => {
    const { database, urls } = (db ?? {}) as { database?: unknown; urls?: unknown };
    if (!Array.isArray(urls)) return;
    const seen = new Map<string, number>();
    urls.forEach((u: unknown, ui) => {
      const raw = (u as { sid?: unknown } | null)?.sid;
      if (typeof raw !== 'string' && typeof raw !== 'number') return;
      const sid = String(raw);
      const path: Path = ['databases', di, 'urls', ui, 'sid'];
      const first = seen.get(sid);
      if (first !== undefined) {
        issues.push({
          path,
          message: `duplicate sid ${JSON.stringify(sid)} (also urls[${first}]); every source of a database needs its own sid`,
        });
        return;
      }
      seen.set(sid, ui);
      if (typeof database !== 'string' || database === '') return;
      const name = kuvaszObjectName(database, sid);
      const other = names.get(name);
      if (other) {
        issues.push({
          path,
          message: `slot and publication name ${name} is also the name of databases[${other.db}] sid ${JSON.stringify(other.sid)}; names are lower-cased, non [a-z0-9_] characters become _, and they are cut to 63 bytes: choose another sid`,
        });
      } else {
        names.set(name, { db: di, sid });
      }
    });
  });
  return issues;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_type':
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

function normalize(
  cfg: ConfigFile,
  file: string,
): { config: Config; issues: { path: Path; message: string }[] } {
  const issues: { path: Path; message: string }[] = [];
  const destSchema = cfg.destination.schema;
  const sources: SourceConfig[] = [];
  cfg.databases.forEach((db, di) => {
    const tables: TableConfig[] = [];
    for (const [key, opts] of Object.entries(db.tables)) {
      const source = parseQualifiedName(key, 'public');
      if (!source) {
        issues.push({
          path: ['databases', di, 'tables', key],
          message: 'expected `table` or `schema.table` (double-quote names that contain dots)',
        });
        continue;
      }
      const targetText = opts?.target;
      const target = targetText
        ? parseQualifiedName(targetText, destSchema)
        : { schema: destSchema, table: source.table };
      if (!target) {
        issues.push({
          path: ['databases', di, 'tables', key, 'target'],
          message: 'expected `table` or `schema.table`',
        });
        continue;
      }
      tables.push({
        key,
        source,
        target,
        type: opts?.type ?? 'clone',
        schemaChanges: opts?.schema_changes ?? cfg.apply.schema_changes,
        partitionsRegex: opts?.partitions_regex
          ? new RegExp(`^(?:${opts.partitions_regex})$`)
          : undefined,
      });
    }
    const targets = new Map<string, string>();
    for (const t of tables) {
      const k = tableKey(t.target);
      const other = targets.get(k);
      if (other !== undefined) {
        issues.push({
          path: ['databases', di, 'tables', t.key],
          message: `target ${displayName(t.target)} is also the target of ${other}; each source table needs its own target`,
        });
      }
      targets.set(k, t.key);
    }
    for (const u of db.urls)
      sources.push({ database: db.database, sid: String(u.sid), url: libpqUrl(u.url), tables });
  });

  const secrets = [cfg.destination.url, ...sources.map((s) => s.url)].flatMap(passwordsIn);
  let http: Config['http'];
  if (cfg.http) {
    const i = cfg.http.listen.lastIndexOf(':');
    http = {
      host: cfg.http.listen.slice(0, i).replace(/^\[|\]$/g, ''),
      port: Number(cfg.http.listen.slice(i + 1)),
    };
    if (http.port > 65535)
      issues.push({ path: ['http', 'listen'], message: 'port must be at most 65535' });
  }
  return {
    issues,
    config: {
      file,
      destination: {
        url: libpqUrl(cfg.destination.url),
        schema: destSchema,
        metadataSchema: cfg.destination.metadata_schema,
      },
      sources,
      apply: {
        workers: cfg.apply.workers,
        batchRows: cfg.apply.batch_rows,
        flushIntervalMs: cfg.apply.flush_interval_ms,
        shutdownTimeoutMs: cfg.apply.shutdown_timeout_ms,
      },
      sync: { parallelTables: cfg.sync.parallel_tables },
      http,
      log: { level: cfg.log.level, format: cfg.log.format },
      secrets,
    },
  };
}
