import { hostname } from 'node:os';
import {
  displayName,
  libpqUrl,
  redactPasswords,
  tableKey,
  withoutClientParams,
} from '@kuvasz/core';
import { TableRules } from '../rules/table-rules.js';
import type { Config, SourceConfig, TableConfig } from './load.js';
import { parseQualifiedName } from './names.js';
import type { ConfigFile } from './schema.js';
import { passwordsIn } from './secrets.js';
import type { Path } from './yaml-doc.js';

/** The original's CORS defaults, used when allowed_origins is set and the others are not. */
export const CORS_DEFAULTS = {
  allowMethods: ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'],
  allowHeaders: [
    'Authorization',
    'User-Agent',
    'If-Modified-Since',
    'Cache-Control',
    'Content-Type',
    'X-Total-Count',
  ],
  allowCredentials: true,
  maxAgeSeconds: 86_400,
};

export interface NormalizeOptions {
  file: string;
  /** Schema of map table names written without one (the original's app.default_schema). */
  defaultSchema: string;
  /** Said once at startup, before the ones found here. */
  notices: string[];
}

/** The validated file as the streamer uses it; problems that need more than one value are listed. */
export function normalize(
  cfg: ConfigFile,
  options: NormalizeOptions,
): { config: Config; issues: { path: Path; message: string }[] } {
  const issues: { path: Path; message: string }[] = [];
  const notices = [...options.notices];
  const destSchema = cfg.destination.schema;
  const sources: SourceConfig[] = [];
  const clientUrl = (url: string, who: string): string => {
    const { url: kept, removed } = withoutClientParams(url);
    if (removed.length > 0)
      notices.push(
        `${who}: URL parameter ${removed.join(', ')} ignored (the streamer opens its replication connections itself; other parameters are kept)`,
      );
    return libpqUrl(kept);
  };
  if (cfg.map.store === 'file' && cfg.databases.length === 0)
    issues.push({
      path: ['databases'],
      message: 'at least one database is needed (or map.store: destination)',
    });
  cfg.databases.forEach((db, di) => {
    const tables: TableConfig[] = [];
    for (const [key, opts] of Object.entries(db.tables)) {
      const source = parseQualifiedName(key, options.defaultSchema);
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
      const parsed = TableRules.parse(opts?.filter, opts?.set);
      for (const p of parsed.problems) {
        issues.push({
          path: ['databases', di, 'tables', key, ...p.field.split('.').slice(0, 2)],
          message: p.message,
        });
      }
      tables.push({
        key,
        source,
        target,
        type: opts?.type ?? 'clone',
        rules: parsed.rules,
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
    for (const u of db.urls) {
      const sid = String(u.sid);
      const url = clientUrl(u.url, `source ${db.database} (sid ${sid})`);
      sources.push({ database: db.database, sid, url, tables, binary: cfg.apply.binary });
    }
  });

  const destinationUrl = clientUrl(cfg.destination.url, 'destination');
  const auth: Config['auth'] = {
    adminPasswordHash: cfg.http?.auth?.admin_password,
    jwtKey: cfg.http?.auth?.jwt_key,
    ttlSeconds: cfg.http?.auth?.ttl ?? 300,
  };
  const secrets = [
    ...[cfg.destination.url, ...sources.map((s) => s.url)].flatMap(passwordsIn),
    ...[auth.adminPasswordHash, auth.jwtKey].filter((s): s is string => s !== undefined),
  ];

  let http: Config['http'];
  if (cfg.http) {
    const i = cfg.http.listen.lastIndexOf(':');
    http = {
      host: cfg.http.listen.slice(0, i).replace(/^\[|\]$/g, ''),
      port: Number(cfg.http.listen.slice(i + 1)),
    };
    const t = cfg.http.timeouts;
    if (t) {
      const timeouts: NonNullable<NonNullable<Config['http']>['timeouts']> = {};
      if (t.read_ms !== undefined) timeouts.readMs = t.read_ms;
      if (t.read_header_ms !== undefined) timeouts.readHeaderMs = t.read_header_ms;
      if (t.write_ms !== undefined) timeouts.writeMs = t.write_ms;
      if (t.idle_ms !== undefined) timeouts.idleMs = t.idle_ms;
      http.timeouts = timeouts;
    }
    if (http.port > 65535)
      issues.push({ path: ['http', 'listen'], message: 'port must be at most 65535' });
  }
  const c = cfg.http?.cors;
  const cors: Config['cors'] =
    c && c.allowed_origins.length > 0
      ? {
          allowedOrigins: c.allowed_origins,
          allowMethods: c.allow_methods ?? CORS_DEFAULTS.allowMethods,
          allowHeaders: c.allow_headers ?? CORS_DEFAULTS.allowHeaders,
          allowCredentials: c.allow_credentials ?? CORS_DEFAULTS.allowCredentials,
          maxAgeSeconds: c.max_age ?? CORS_DEFAULTS.maxAgeSeconds,
        }
      : undefined;

  const fleet = fleetOf(cfg.fleet, issues);

  return {
    issues,
    config: {
      file: options.file,
      destination: {
        url: destinationUrl,
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
      sync: {
        parallelTables: cfg.sync.parallel_tables,
        parallelSources: cfg.sync.parallel_sources,
        rate:
          cfg.sync.rows_per_second === undefined
            ? undefined
            : { rowsPerSecond: cfg.sync.rows_per_second, burst: cfg.sync.burst ?? 1000 },
      },
      http,
      cors,
      auth,
      map:
        cfg.map.store === 'destination'
          ? { mode: 'database', sqliteImport: cfg.map.import_sqlite }
          : { mode: 'file' },
      log: { level: cfg.log.level, format: cfg.log.format },
      fleet,
      secrets,
      // A notice never carries a URL; redact anyway, in case a name holds one.
      notices: notices.map(redactPasswords),
    },
  };
}

/**
 * The fleet section, or undefined when it is absent or disabled. A lease
 * must outlive two missed renewals, so renew_seconds is at most a third of
 * lease_seconds; checked even while disabled, so enabling it later does not
 * turn up a mistake.
 */
function fleetOf(
  f: ConfigFile['fleet'],
  issues: { path: Path; message: string }[],
): Config['fleet'] {
  if (!f) return undefined;
  if (f.renew_seconds > f.lease_seconds / 3) {
    // Rounded to milliseconds, each in the direction that satisfies the rule.
    const most = Math.floor((f.lease_seconds * 1000) / 3) / 1000;
    const least = Math.ceil(f.renew_seconds * 3000) / 1000;
    issues.push({
      path: ['fleet', 'renew_seconds'],
      message: `fleet.renew_seconds (${f.renew_seconds}) must be at most fleet.lease_seconds / 3 (${most}), so that a lease outlives two missed renewals: set renew_seconds to ${most} or less, or lease_seconds to ${least} or more`,
    });
  }
  if (!f.enabled) return undefined;
  return {
    instanceId: f.instance_id ?? `${hostname()}-${process.pid}`,
    leaseSeconds: f.lease_seconds,
    renewSeconds: f.renew_seconds,
    takePerRound: f.take_per_round,
  };
}
