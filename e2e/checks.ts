import type { PgCluster } from '@kuvasz/testkit';
import { waitFor } from '@kuvasz/testkit';
import pg from 'pg';
import { killAll, runningProcesses } from './harness.js';

/** One database of one cluster. */
export interface Db {
  cluster: PgCluster;
  db: string;
}

/** The history sentinel of an open version, as the spec writes it. */
export const OPEN_END = '9999-01-01 00:00:00+00';
export const OPEN = `kvsz_end = '${OPEN_END}'`;

export interface Digest {
  rows: number;
  md5: string;
}

/**
 * Row count and md5 of every row of a query as text, in a stable order: two
 * equal digests mean equal contents (same rows, same values, same count).
 */
export async function digest(where: Db, query: string): Promise<Digest> {
  const r = await where.cluster.sql<{ rows: number; md5: string | null }>(
    `SELECT count(*)::int AS rows, md5(string_agg(x::text, ',' ORDER BY x::text)) AS md5 FROM (${query}) x`,
    [],
    where.db,
  );
  return { rows: r[0]?.rows ?? 0, md5: r[0]?.md5 ?? '' };
}

/**
 * Waits until a query on the source and one on the destination give the same
 * digest; the timeout message shows both, so a failure says how far off it is.
 */
export async function waitForSame(
  source: Db,
  sourceQuery: string,
  dest: Db,
  destQuery: string,
  options: { timeoutMs?: number; message?: string } = {},
): Promise<Digest> {
  let last: { s: Digest; d: Digest } | undefined;
  try {
    return await waitFor(
      async () => {
        const [s, d] = await Promise.all([digest(source, sourceQuery), digest(dest, destQuery)]);
        last = { s, d };
        return s.rows === d.rows && s.md5 === d.md5 ? s : undefined;
      },
      { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 200 },
    );
  } catch {
    const diff = await rowDiff(source, sourceQuery, dest, destQuery).catch(
      (e: unknown) => `  (no diff: ${String(e)})`,
    );
    throw new Error(
      `${options.message ?? 'destination to equal source'}: source ${last?.s.rows} rows (${last?.s.md5}), destination ${last?.d.rows} rows (${last?.d.md5})\n  source: ${sourceQuery}\n  destination: ${destQuery}\n${diff}`,
    );
  }
}

/** Up to 10 rows found on one side only, each as text: what a failed comparison shows. */
async function rowDiff(
  source: Db,
  sourceQuery: string,
  dest: Db,
  destQuery: string,
): Promise<string> {
  const rows = async (where: Db, query: string) =>
    (
      await where.cluster.sql<{ t: string }>(`SELECT x::text AS t FROM (${query}) x`, [], where.db)
    ).map((r) => r.t);
  const [s, d] = await Promise.all([rows(source, sourceQuery), rows(dest, destQuery)]);
  const inDest = new Set(d);
  const inSource = new Set(s);
  const onlySource = s
    .filter((r) => !inDest.has(r))
    .sort()
    .slice(0, 10);
  const onlyDest = d
    .filter((r) => !inSource.has(r))
    .sort()
    .slice(0, 10);
  return [
    ...onlySource.map((r) => `  only in source:      ${r}`),
    ...onlyDest.map((r) => `  only in destination: ${r}`),
  ].join('\n');
}

export async function count(where: Db, query: string): Promise<number> {
  const r = await where.cluster.sql<{ n: number }>(
    `SELECT count(*)::int AS n FROM (${query}) x`,
    [],
    where.db,
  );
  return r[0]?.n ?? 0;
}

/**
 * Breaches of the history table invariants, one text line each (empty when
 * none): per (sid, key) the versions form one chain ordered by `kvsz_start`,
 * the first starting at 1900-01-01, each next one starting exactly where the
 * previous ended (no gap, no overlap), every version of positive length, only
 * the last one open or deleted and the last one either (so at most one open
 * version per key). `version` (a
 * column the workloads increment on every update) must then step by one
 * along the chain: no update lost, none applied twice.
 */
export async function historyProblems(
  where: Db,
  table: string,
  key: string[],
  options: { versionColumn?: string } = {},
): Promise<string[]> {
  const k = ['sid', ...key].map((c) => pg.escapeIdentifier(c)).join(', ');
  const ver = options.versionColumn ? pg.escapeIdentifier(options.versionColumn) : undefined;
  const rows = await where.cluster.sql<{ problem: string }>(
    `WITH v AS (
       SELECT ${k}, kvsz_start, kvsz_end, kvsz_deleted,
              ${ver ? `${ver} AS ver, lag(${ver}) OVER w AS prev_ver,` : ''}
              lag(kvsz_end) OVER w AS prev_end,
              row_number() OVER w AS n,
              count(*) OVER (PARTITION BY ${k}) AS total
         FROM ${table}
       WINDOW w AS (PARTITION BY ${k} ORDER BY kvsz_start, kvsz_end))
     SELECT concat_ws(' ', 'key', row(${k})::text, 'version', n, 'of', total, ':',
              CASE WHEN n = 1 AND kvsz_start <> '1900-01-01 00:00:00+00' THEN 'first version does not start at 1900-01-01' END,
              CASE WHEN n > 1 AND kvsz_start <> prev_end THEN 'starts at ' || kvsz_start || ' but the previous ended at ' || prev_end END,
              CASE WHEN kvsz_end <= kvsz_start THEN 'empty or negative period' END,
              CASE WHEN n < total AND kvsz_end = '${OPEN_END}' THEN 'open but not the last' END,
              CASE WHEN n < total AND kvsz_deleted THEN 'deleted but not the last' END,
              CASE WHEN kvsz_deleted AND kvsz_end = '${OPEN_END}' THEN 'deleted yet open' END,
              CASE WHEN n = total AND kvsz_end <> '${OPEN_END}' AND NOT kvsz_deleted THEN 'the last version is closed but not deleted' END
              ${ver ? `, CASE WHEN n > 1 AND ver IS DISTINCT FROM prev_ver + 1 THEN 'version ' || ver || ' follows ' || prev_ver END` : ''}
            ) AS problem
       FROM v
      WHERE (n = 1 AND kvsz_start <> '1900-01-01 00:00:00+00')
         OR (n > 1 AND kvsz_start <> prev_end)
         OR kvsz_end <= kvsz_start
         OR (n < total AND (kvsz_end = '${OPEN_END}' OR kvsz_deleted))
         OR (kvsz_deleted AND kvsz_end = '${OPEN_END}')
         OR (n = total AND kvsz_end <> '${OPEN_END}' AND NOT kvsz_deleted)
         ${ver ? 'OR (n > 1 AND ver IS DISTINCT FROM prev_ver + 1)' : ''}
      ORDER BY 1
      LIMIT 20`,
    [],
    where.db,
  );
  return rows.map((r) => r.problem);
}

/** The slot's `confirmed_flush_lsn` as a bigint (undefined when the slot does not exist). */
export async function confirmedLsn(where: Db, slot: string): Promise<bigint | undefined> {
  const r = await where.cluster.sql<{ lsn: string | null }>(
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
    where.db,
  );
  const lsn = r[0]?.lsn;
  return lsn ? parseLsn(lsn) : undefined;
}

export function parseLsn(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

export async function currentLsn(where: Db): Promise<bigint> {
  const r = await where.cluster.sql<{ lsn: string }>(
    'SELECT pg_current_wal_lsn()::text AS lsn',
    [],
    where.db,
  );
  return parseLsn(r[0]?.lsn ?? '0/0');
}

/**
 * What a scenario must leave behind: no kuvasz-streamer process of this file
 * running, no connection named `kuvasz%` on any cluster (walsenders included),
 * and no replication slot except those listed in `keepSlots`. Walsenders and
 * backends exit a moment after their client, hence the polling.
 */
export async function assertNoLeftovers(
  clusters: PgCluster[],
  options: { keepSlots?: string[]; timeoutMs?: number } = {},
): Promise<void> {
  const running = runningProcesses().map((p) => `pid ${p.pid}`);
  if (running.length > 0) {
    await killAll();
    throw new Error(`kuvasz-streamer processes still running: ${running.join(', ')}`);
  }
  const keep = new Set(options.keepSlots ?? []);
  let left: string[] = [];
  try {
    await waitFor(
      async () => {
        left = [];
        for (const c of clusters) {
          const conns = await c.sql<{ pid: number; application_name: string; datname: string }>(
            `SELECT pid, application_name, datname FROM pg_stat_activity
              WHERE application_name LIKE 'kuvasz%' AND pid <> pg_backend_pid()`,
          );
          for (const x of conns)
            left.push(
              `port ${c.port}: connection ${x.pid} (${x.application_name}) to ${x.datname}`,
            );
          const slots = await c.sql<{ slot_name: string; active: boolean }>(
            'SELECT slot_name, active FROM pg_replication_slots',
          );
          for (const s of slots) {
            if (!keep.has(s.slot_name) || s.active)
              left.push(`port ${c.port}: slot ${s.slot_name}${s.active ? ' (active)' : ''}`);
          }
        }
        return left.length === 0;
      },
      { timeoutMs: options.timeoutMs ?? 10_000, intervalMs: 100 },
    );
  } catch {
    throw new Error(`left behind by the streamer:\n  ${left.join('\n  ')}`);
  }
}
