import { formatLsn, parseLsn } from '@kuvasz/core';
import { escapeIdentifier, escapeLiteral } from 'pg';
import type { Queryable } from '../target/describe-table.js';

/**
 * The engine's bookkeeping in the destination's metadata schema:
 * - `source_positions`: per source, the commit LSN of the last source
 *   transaction applied and the LSN to acknowledge for it. Written by every
 *   destination transaction of that source, in the same transaction as its
 *   rows: exact after any crash, and the replay skips what it covers.
 * - `positions`: what engines before ordered apply wrote, per (source,
 *   target table, lane). Read once at start (see legacy-positions.ts) and
 *   deleted for a source once its replay has passed them.
 * - `sources`: the durable LSN such engines recorded about once a second;
 *   read by `storedPosition` for a source that has no row of its own yet.
 */
export interface Position {
  lsn: bigint;
  nextIndex: number;
}

/** The stored positions of one (source, target) from before ordered apply: one per lane. */
export interface LanePositions {
  lanes: number;
  byLane: Map<number, Position>;
}

export interface SourcePosition {
  commitLsn: bigint;
  endLsn: bigint;
}

export function sourceKeyOf(database: string, sid: string): string {
  return `${database}\u0000${sid}`;
}

export async function loadSourcePositions(
  client: Queryable,
  schema: string,
): Promise<Map<string, SourcePosition>> {
  const res = await client.query<{ d: string; s: string; c: string; e: string }>(
    `SELECT source_database AS d, sid AS s, commit_lsn::text AS c, end_lsn::text AS e
       FROM ${escapeIdentifier(schema)}.source_positions`,
  );
  const out = new Map<string, SourcePosition>();
  for (const r of res.rows)
    out.set(sourceKeyOf(r.d, r.s), { commitLsn: parseLsn(r.c), endLsn: parseLsn(r.e) });
  return out;
}

/** Per source key, per target `schema\0table`: the lane positions an older engine stored. */
export async function loadLanePositions(
  client: Queryable,
  schema: string,
): Promise<Map<string, Map<string, LanePositions>>> {
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
  const out = new Map<string, Map<string, LanePositions>>();
  for (const r of res.rows) {
    const sk = sourceKeyOf(r.d, r.s);
    let bySource = out.get(sk);
    if (!bySource) {
      bySource = new Map();
      out.set(sk, bySource);
    }
    const tk = `${r.ts}\u0000${r.tt}`;
    const e = bySource.get(tk) ?? { lanes: r.lanes, byLane: new Map<number, Position>() };
    e.byLane.set(r.lane, { lsn: parseLsn(r.lsn), nextIndex: r.idx });
    bySource.set(tk, e);
  }
  return out;
}

/**
 * The statements that save a source's position, one per item, so that they
 * travel in one message with the group's COMMIT (a simple query or a
 * pipeline, which takes one statement each): the upsert with parameters (a
 * prepared statement of the connection where the message allows), and with
 * `dropLanes` the older engine's lane positions of that source, which the
 * replay has passed.
 */
export function savePositionSql(
  schema: string,
  database: string,
  sid: string,
  position: SourcePosition,
  dropLanes: boolean,
): ({ text: string; values: string[] } | string)[] {
  const s = escapeIdentifier(schema);
  const upsert = {
    text: `INSERT INTO ${s}.source_positions AS p (source_database, sid, commit_lsn, end_lsn)
           VALUES ($1::text, $2::text, $3::pg_lsn, $4::pg_lsn)
           ON CONFLICT (source_database, sid)
           DO UPDATE SET commit_lsn = EXCLUDED.commit_lsn, end_lsn = EXCLUDED.end_lsn, updated_at = now()`,
    values: [database, sid, formatLsn(position.commitLsn), formatLsn(position.endLsn)],
  };
  if (!dropLanes) return [upsert];
  return [
    upsert,
    `DELETE FROM ${s}.positions WHERE source_database = ${escapeLiteral(database)} AND sid = ${escapeLiteral(sid)}`,
  ];
}

export async function loadSourcePosition(
  client: Queryable,
  schema: string,
  database: string,
  sid: string,
): Promise<SourcePosition | undefined> {
  const res = await client.query<{ c: string; e: string }>(
    `SELECT commit_lsn::text AS c, end_lsn::text AS e FROM ${escapeIdentifier(schema)}.source_positions
      WHERE source_database = $1 AND sid = $2`,
    [database, sid],
  );
  const r = res.rows[0];
  return r ? { commitLsn: parseLsn(r.c), endLsn: parseLsn(r.e) } : undefined;
}

/** The durable LSN an engine before ordered apply recorded for a source (`sources`). */
export async function loadLegacyDurable(
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
