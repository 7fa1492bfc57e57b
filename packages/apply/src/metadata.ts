import { escapeIdentifier, escapeLiteral } from 'pg';
import type { Queryable } from './describe-table.js';
import { formatLsn, parseLsn } from './lsn.js';

/**
 * The engine's bookkeeping in the destination:
 * - `positions`: per (source database, sid, target table), the source
 *   position (commit LSN, index of the next change in that transaction) up
 *   to which that table holds the source's changes. Written in the same
 *   transaction as the rows, so it is exact after any crash.
 * - `sources`: per source, an LSN known durable for every table (the low
 *   watermark), written after the fact; a safe, possibly lagging, restart point.
 */
export interface Position {
  lsn: bigint;
  nextIndex: number;
}

/** The stored positions of one (source, target): one per lane, and the lane count they were made with. */
export interface StoredPositions {
  lanes: number;
  byLane: Map<number, Position>;
}

export function positionKey(database: string, sid: string, schema: string, table: string): string {
  return JSON.stringify([database, sid, schema, table]);
}

// Arbitrary constant: serialises concurrent first-time creation by several engines.
const CREATE_LOCK = 0x6b76737a;

export async function ensureMetadata(
  client: Queryable & { query: Queryable['query'] },
  schema: string,
): Promise<void> {
  const s = escapeIdentifier(schema);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [CREATE_LOCK]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.positions (
         source_database text NOT NULL,
         sid text NOT NULL,
         target_schema text NOT NULL,
         target_table text NOT NULL,
         lane integer NOT NULL,
         lanes integer NOT NULL,
         commit_lsn pg_lsn NOT NULL,
         next_index integer NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (source_database, sid, target_schema, target_table, lane))`,
    );
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.sources (
         source_database text NOT NULL,
         sid text NOT NULL,
         durable_lsn pg_lsn NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (source_database, sid))`,
    );
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}

export async function loadPositions(
  client: Queryable,
  schema: string,
): Promise<Map<string, StoredPositions>> {
  const res = await client.query<{
    d: string;
    s: string;
    ts: string;
    tt: string;
    lane: number;
    lanes: number;
    lsn: string;
    idx: number;
  }>(
    `SELECT source_database AS d, sid AS s, target_schema AS ts, target_table AS tt, lane, lanes,
            commit_lsn::text AS lsn, next_index AS idx
       FROM ${escapeIdentifier(schema)}.positions`,
  );
  const out = new Map<string, StoredPositions>();
  for (const r of res.rows) {
    const k = positionKey(r.d, r.s, r.ts, r.tt);
    const e = out.get(k) ?? { lanes: r.lanes, byLane: new Map<number, Position>() };
    e.byLane.set(r.lane, { lsn: parseLsn(r.lsn), nextIndex: r.idx });
    out.set(k, e);
  }
  return out;
}

export interface PositionWrite {
  database: string;
  sid: string;
  schema: string;
  table: string;
  lane: number;
  lanes: number;
  position: Position;
}

/**
 * The positions upsert as literal SQL (no parameters), so that it travels in
 * one simple-protocol message with the batch's COMMIT: one round trip less
 * per batch. Every value is quoted by `escapeLiteral` or is an integer.
 */
export function savePositionsSql(schema: string, writes: PositionWrite[]): string {
  const int = (n: number) => {
    if (!Number.isSafeInteger(n)) throw new Error(`position field is not an integer: ${n}`);
    return String(n);
  };
  const rows = writes.map(
    (w) =>
      `(${escapeLiteral(w.database)}, ${escapeLiteral(w.sid)}, ${escapeLiteral(w.schema)}, ${escapeLiteral(w.table)}, ${int(w.lane)}, ${int(w.lanes)}, '${formatLsn(w.position.lsn)}'::pg_lsn, ${int(w.position.nextIndex)})`,
  );
  return `INSERT INTO ${escapeIdentifier(schema)}.positions AS p
             (source_database, sid, target_schema, target_table, lane, lanes, commit_lsn, next_index)
           VALUES ${rows.join(', ')}
           ON CONFLICT (source_database, sid, target_schema, target_table, lane)
           DO UPDATE SET commit_lsn = EXCLUDED.commit_lsn, next_index = EXCLUDED.next_index, updated_at = now()`;
}

export async function saveSourcePosition(
  client: Queryable,
  schema: string,
  database: string,
  sid: string,
  lsn: bigint,
): Promise<void> {
  await client.query(
    `INSERT INTO ${escapeIdentifier(schema)}.sources AS s (source_database, sid, durable_lsn)
     VALUES ($1, $2, $3::pg_lsn)
     ON CONFLICT (source_database, sid)
     DO UPDATE SET durable_lsn = GREATEST(s.durable_lsn, EXCLUDED.durable_lsn), updated_at = now()`,
    [database, sid, formatLsn(lsn)],
  );
}

export async function loadSourcePosition(
  client: Queryable,
  schema: string,
  database: string,
  sid: string,
): Promise<bigint | undefined> {
  const res = await client.query<{ lsn: string }>(
    `SELECT durable_lsn::text AS lsn FROM ${escapeIdentifier(schema)}.sources WHERE source_database = $1 AND sid = $2`,
    [database, sid],
  );
  const r = res.rows[0];
  return r ? parseLsn(r.lsn) : undefined;
}

export function laterOf(a: Position | undefined, b: Position): Position {
  if (!a || b.lsn > a.lsn || (b.lsn === a.lsn && b.nextIndex > a.nextIndex)) return b;
  return a;
}

/** Whether (lsn, index) is covered by a stored position. */
export function covered(pos: Position | undefined, lsn: bigint, index: number): boolean {
  if (!pos) return false;
  return lsn < pos.lsn || (lsn === pos.lsn && index < pos.nextIndex);
}
