import { connectHint, redactPasswords, type TableRef, tableKey } from '@kuvasz/core';
import pg from 'pg';
import type { Config, TargetType } from '../config/load.js';
import { StreamerError } from '../errors.js';
import type { TableRules } from '../rules/table-rules.js';

export interface TargetUse {
  target: TableRef;
  type: TargetType;
  /** Every (database, sid) that writes into it, with the source table. */
  feeds: {
    database: string;
    sid: string;
    url: string;
    source: TableRef;
    rules: TableRules | undefined;
  }[];
}

/** The distinct target tables of a configuration and what feeds each. */
export function targetsOf(cfg: Config): TargetUse[] {
  const byKey = new Map<string, TargetUse>();
  for (const s of cfg.sources) {
    for (const t of s.tables) {
      const k = tableKey(t.target);
      let use = byKey.get(k);
      if (!use) {
        use = { target: t.target, type: t.type, feeds: [] };
        byKey.set(k, use);
      }
      use.feeds.push({
        database: s.database,
        sid: s.sid,
        url: s.url,
        source: t.source,
        rules: t.rules,
      });
    }
  }
  return [...byKey.values()];
}

/** Runs `fn` on a short-lived connection; a connect failure names the redacted URL and the server's message. */
export async function withPg<T>(
  url: string,
  what: string,
  fn: (c: pg.Client) => Promise<T>,
  connectTimeoutMs = 15_000,
): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: connectTimeoutMs,
    application_name: 'kuvasz-streamer',
  });
  // A server ending the session mid-call fails the call itself; unheard, the event would end the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err: unknown) {
    await client.end().catch(() => undefined);
    const hint = connectHint(err);
    throw new StreamerError(
      'runtime',
      `cannot connect to ${what} ${redactPasswords(url)}: ${(err as Error).message}${hint ? ` (${hint})` : ''}`,
      { cause: err },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
