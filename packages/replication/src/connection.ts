import { connectHint, messageOf, redactPasswords, sqlstateOf } from '@kuvasz/core';
import pg from 'pg';
import { ConnectionError, ReplicationError } from './errors.js';

/** Where a function runs its SQL: a connection string (it opens and closes a client) or an open client. */
export type SqlTarget = string | pg.ClientBase;

export interface ConnectOptions {
  /** `application_name` shown in `pg_stat_activity` (default `kuvasz-streamer`). */
  applicationName?: string;
  /** Give up connecting after this long (default 15,000 ms). */
  connectTimeoutMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;

/** Wraps a connect failure into a `ConnectionError` naming the redacted URL, the server's message and a hint. */
export function connectionError(
  connectionString: string,
  e: unknown,
  what = 'cannot connect to',
): ConnectionError {
  const url = redactPasswords(connectionString);
  const hint = connectHint(e);
  const detail = redactPasswords(messageOf(e));
  return new ConnectionError(url, `${what} ${url}: ${detail}${hint ? ` (${hint})` : ''}`, {
    cause: e,
    sqlstate: sqlstateOf(e),
  });
}

/**
 * Opens a client. With `replication: true` it is a logical walsender
 * connection (`replication=database`): it speaks the replication commands and
 * plain SQL through the simple query protocol only.
 */
export async function openClient(
  connectionString: string,
  options: ConnectOptions & { replication?: boolean } = {},
): Promise<pg.Client> {
  const config: pg.ClientConfig & { replication?: string } = {
    connectionString,
    application_name: options.applicationName ?? 'kuvasz-streamer',
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    keepAlive: true,
  };
  if (options.replication) config.replication = 'database';
  const client = new pg.Client(config as pg.ClientConfig);
  // An idle client whose server goes away emits 'error'; without a listener
  // that would crash the process. Callers that care add their own.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => {});
    throw connectionError(connectionString, e);
  }
  return client;
}

/** Runs `fn` with an open client: the one given, or a new one closed afterwards. */
export async function withClient<T>(
  target: SqlTarget,
  fn: (client: pg.ClientBase) => Promise<T>,
  options: ConnectOptions = {},
): Promise<T> {
  if (typeof target !== 'string') return fn(target);
  const client = await openClient(target, options);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** A description of the target for messages: the redacted URL, or where an open client points. */
export function describeSqlTarget(target: SqlTarget): string {
  if (typeof target === 'string') return redactPasswords(target);
  const c = target as unknown as { host?: string; port?: number; database?: string };
  return `postgres://${c.host ?? '?'}:${c.port ?? '?'}/${c.database ?? '?'}`;
}

/** Runs a statement; a failure becomes a `ReplicationError` naming what was being done. */
export async function query<R extends pg.QueryResultRow = Record<string, unknown>>(
  client: pg.ClientBase,
  text: string,
  params: unknown[] | undefined,
  doing: string,
): Promise<R[]> {
  try {
    const res = await client.query<R>(text, params);
    return res.rows;
  } catch (e) {
    if (e instanceof ReplicationError) throw e;
    throw new ReplicationError(
      'query_failed',
      `${doing} failed: ${redactPasswords(messageOf(e))}`,
      {
        cause: e,
        sqlstate: sqlstateOf(e),
      },
    );
  }
}

/** `server_version_num` as a number, e.g. 170004. */
export async function serverVersionNum(client: pg.ClientBase): Promise<number> {
  const rows = await query<{ server_version_num: string }>(
    client,
    'SHOW server_version_num',
    undefined,
    'reading server_version_num',
  );
  const v = Number(rows[0]?.server_version_num);
  if (!Number.isInteger(v) || v <= 0) {
    throw new ReplicationError(
      'query_failed',
      `the server reported server_version_num ${JSON.stringify(rows[0]?.server_version_num)}, not a number`,
    );
  }
  return v;
}

/** Major version from `server_version_num` (120000 -> 12, 170004 -> 17). */
export function majorVersion(versionNum: number): number {
  return versionNum >= 100000 ? Math.floor(versionNum / 10000) : Math.floor(versionNum / 100) / 10;
}
