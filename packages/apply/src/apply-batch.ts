import type pg from 'pg';
import { BatchScript } from './batch-script.js';
import { type CopyStatement, copyRows } from './copy-rows.js';
import { sqlstateOf } from './errors.js';
import { type PositionWrite, savePositionsSql } from './metadata.js';
import { hasUnchanged, type PlannedOp, planUnit } from './plan-units.js';
import type { Shape } from './shape.js';
import { inlineParams } from './simple-query.js';
import {
  closeAndReopen,
  closeVersions,
  deleteRows,
  insertRows,
  insertVersions,
  probeVersions,
  type Statement,
  truncateRows,
  updateOrInsertRows,
  updateRows,
} from './statements.js';
import { HISTORY_START } from './target-ddl.js';
import type { Unit, WorkItem } from './work-item.js';

export type StepName =
  | 'planned'
  | 'statement'
  | 'before-commit'
  | 'after-commit'
  | 'before-durable';

export interface BatchContext {
  metadataSchema: string;
  synchronousCommit: 'on' | 'off';
  /** Inserts of at least this many rows go by COPY. */
  copyMinRows: number;
  /** Test-only: called between the steps of a batch; throwing simulates a crash there. */
  step(name: StepName): Promise<void>;
}

export type EventKind =
  | 'insert_conflict'
  | 'update_missing'
  | 'delete_missing'
  | 'unmaterializable';

export interface BatchEvent {
  unit: Unit;
  op: PlannedOp<WorkItem>;
  kind: EventKind;
  shape: Shape;
}

export interface BatchResult {
  events: BatchEvent[];
  /** Ops whose every change is settled, with their result, for stats. */
  settled: {
    unit: Unit;
    op: PlannedOp<WorkItem> | undefined;
    items: WorkItem[];
    result: 'ok' | 'conflict' | 'missing' | 'error' | 'skipped';
  }[];
  /** One per (unit, lane) the batch covers. */
  positions: { unit: Unit; write: PositionWrite }[];
  /** WAL insert position after COMMIT (synchronous_commit = off only). */
  walLsn: string | undefined;
}

type Client = Pick<pg.PoolClient, 'query'>;

/** What the current destination transaction has set (SET LOCAL lasts until it ends). */
interface TxState {
  script: BatchScript;
  nestedLoop: boolean;
}

/**
 * Below this many rows an INSERT statement goes in with the statements around
 * it (no round trip of its own); from it on, COPY's cheaper parsing wins
 * over the extra round trip its CopyInResponse costs.
 */
export const COPY_MIN_ROWS = 100;

const NESTED_LOOP_ON = 'SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off';
const NESTED_LOOP_OFF =
  'SET LOCAL enable_hashjoin TO DEFAULT; SET LOCAL enable_mergejoin TO DEFAULT';

/** What statements return: the `ord`s of changes that matched nothing or conflicted, and how. */
type Row = { ord: number; conflict?: boolean; outcome?: string };

/**
 * Held SQL text (UTF-16 units, up to 3 bytes each) is sent once it passes
 * this: well under the 1 GB a PostgreSQL message may hold.
 */
const HELD_CHARS_LIMIT = 64 * 1024 * 1024;

/** Holds the planner settings the statement wants (SET LOCAL) in front of it. */
function plannerSettings(tx: TxState, st: Statement): void {
  const nestedLoop = st.nestedLoop === true;
  if (nestedLoop !== tx.nestedLoop) {
    tx.script.add(nestedLoop ? NESTED_LOOP_ON : NESTED_LOOP_OFF, 2);
    tx.nestedLoop = nestedLoop;
  }
}

/** Holds the statement for the next message (sending what is held once it grew large); `onRows` gets its answer then. */
async function defer(
  ctx: BatchContext,
  tx: TxState,
  st: Statement,
  onRows?: (rows: Row[]) => void,
): Promise<void> {
  plannerSettings(tx, st);
  tx.script.add(inlineParams(st.text, st.values), 1, onRows);
  if (await tx.script.flushIfOver(HELD_CHARS_LIMIT)) await ctx.step('statement');
}

/** Sends the statement with whatever is held; its rows. */
async function run(ctx: BatchContext, tx: TxState, st: Statement): Promise<Row[]> {
  plannerSettings(tx, st);
  const rows = await tx.script.run<Row>(inlineParams(st.text, st.values));
  await ctx.step('statement');
  return rows;
}

async function runCopy(ctx: BatchContext, tx: TxState, st: CopyStatement): Promise<void> {
  await tx.script.copy(st);
  await ctx.step('statement');
}

function byOrd<T>(ops: T[], rows: { ord: number }[]): T[] {
  return rows.map((r) => ops[r.ord - 1]!);
}

/** One round's operations and the events its statements report (some only once their message is answered). */
interface RoundRecord {
  unit: Unit;
  round: PlannedOp<WorkItem>[];
  events: BatchEvent[];
}

/**
 * Applies one batch in one destination transaction: every target's planned
 * statements, then the positions of every (source, target) it covers, then
 * COMMIT. Either all of it is in the destination or none of it. Statements
 * share messages where nothing waits for their answer (BatchScript): a batch
 * of updates, deletes and small inserts is a single round trip.
 */
export async function applyBatch(
  client: Client,
  items: WorkItem[],
  ctx: BatchContext,
): Promise<BatchResult> {
  const byUnit = new Map<Unit, WorkItem[]>();
  for (const it of items) {
    const list = byUnit.get(it.unit);
    if (list) list.push(it);
    else byUnit.set(it.unit, [it]);
  }
  const result: BatchResult = { events: [], settled: [], positions: [], walLsn: undefined };
  const plans = [...byUnit].map(([unit, list]) => ({
    unit,
    list,
    plan: planUnit(
      list.map((i) => i.plan!),
      unit.target.type,
    ),
  }));
  const tx: TxState = { script: new BatchScript(client), nestedLoop: false };
  tx.script.add('BEGIN');
  if (ctx.synchronousCommit === 'off') tx.script.add('SET LOCAL synchronous_commit = off');
  await ctx.step('planned');
  const rounds: RoundRecord[] = [];
  for (const { unit, list, plan } of plans) {
    const sid = unit.source.id.sid;
    if (plan.ignored.length > 0)
      result.settled.push({ unit, op: undefined, items: plan.ignored, result: 'skipped' });
    if (plan.folded.length > 0)
      result.settled.push({ unit, op: undefined, items: plan.folded, result: 'ok' });
    for (const block of plan.blocks) {
      if (block.kind === 'truncate') {
        await defer(ctx, tx, truncateRows(unit.target, sid, block.time));
        result.settled.push({ unit, op: undefined, items: block.refs, result: 'ok' });
        continue;
      }
      for (const round of block.rounds) {
        const events =
          unit.target.type === 'history'
            ? await historyRound(ctx, tx, unit, block.shape, sid, round)
            : await cloneRound(ctx, tx, unit, block.shape, sid, round);
        rounds.push({ unit, round, events });
      }
    }
    const lastByLane = new Map<number, WorkItem>();
    for (const it of list) lastByLane.set(it.lane, it);
    for (const [lane, last] of lastByLane) {
      result.positions.push({
        unit,
        write: {
          database: unit.source.id.database,
          sid,
          schema: unit.target.ref.schema,
          table: unit.target.ref.table,
          lane,
          lanes: unit.lanes,
          position: { lsn: last.lsn, nextIndex: last.index + 1 },
        },
      });
    }
  }
  // Positions and COMMIT travel with the statements still held: an error in
  // any of them skips the COMMIT, and the worker rolls back as before.
  await ctx.step('before-commit');
  tx.script.add(
    savePositionsSql(
      ctx.metadataSchema,
      result.positions.map((p) => p.write),
    ),
  );
  tx.script.add('COMMIT');
  if (ctx.synchronousCommit === 'off') {
    // After COMMIT, in its own implicit transaction: the WAL position that covers the commit record.
    tx.script.add('SELECT pg_current_wal_insert_lsn()::text AS lsn', 1, (rows) => {
      result.walLsn = rows[0]?.lsn as string | undefined;
    });
  }
  await tx.script.flush();
  await ctx.step('after-commit');
  for (const r of rounds) settleRound(result, r);
  return result;
}

/** The round's events, and its changes by outcome (clean ones in one entry: counters are bumped per entry). */
function settleRound(result: BatchResult, { unit, round, events }: RoundRecord): void {
  result.events.push(...events);
  const worst = new Map<PlannedOp<WorkItem>, 'conflict' | 'missing' | 'error'>();
  for (const e of events) {
    const r =
      e.kind === 'unmaterializable'
        ? 'error'
        : e.kind === 'insert_conflict'
          ? 'conflict'
          : 'missing';
    if (r === 'error' || !worst.has(e.op)) worst.set(e.op, r);
  }
  const ok: WorkItem[] = [];
  for (const op of round) {
    const bad = worst.get(op);
    const r = bad !== 'error' && op.quiet ? 'ok' : (bad ?? 'ok');
    if (r === 'ok') for (const ref of op.refs) ok.push(ref);
    else result.settled.push({ unit, op, items: op.refs, result: r });
  }
  if (ok.length > 0) result.settled.push({ unit, op: undefined, items: ok, result: 'ok' });
}

async function cloneRound(
  ctx: BatchContext,
  tx: TxState,
  unit: Unit,
  shape: Shape,
  sid: string,
  round: PlannedOp<WorkItem>[],
): Promise<BatchEvent[]> {
  const events: BatchEvent[] = [];
  const ev = (op: PlannedOp<WorkItem>, kind: BatchEvent['kind']) =>
    events.push({ unit, op, kind, shape });
  const inserts = round.filter((o) => o.kind === 'insert');
  const updates = round.filter((o) => o.kind === 'update');
  const deletes = round.filter((o) => o.kind === 'delete');
  if (deletes.length > 0) {
    // Misses are only logged: the DELETE travels with the next message.
    await defer(ctx, tx, deleteRows(shape, sid, deletes), (rows) => {
      for (const op of byOrd(deletes, rows)) ev(op, 'delete_missing');
    });
  }
  if (updates.length > 0 && !shape.full && shape.arbiter && !updates.some((o) => o.quiet)) {
    // The update inserts what it missed itself: held, like a DELETE.
    await defer(ctx, tx, updateOrInsertRows(shape, sid, updates), (missed) => {
      for (const r of missed) {
        const op = updates[r.ord - 1]!;
        ev(op, r.outcome === 'unmaterializable' ? 'unmaterializable' : 'update_missing');
      }
      for (const r of missed)
        if (r.outcome === 'conflict') ev(updates[r.ord - 1]!, 'insert_conflict');
    });
  } else if (updates.length > 0) {
    for (const op of byOrd(updates, await run(ctx, tx, updateRows(shape, sid, updates)))) {
      // A missing row is inserted from the new values, unless some are unchanged TOAST: never NULL them.
      if (hasUnchanged(shape, op.newT)) ev(op, 'unmaterializable');
      else {
        ev(op, 'update_missing');
        inserts.push(op);
      }
    }
  }
  if (inserts.length > 0) {
    const conflict = (op: PlannedOp<WorkItem>) => ev(op, 'insert_conflict');
    const probe = !shape.full && shape.keyCols.length > 0;
    if (inserts.length < ctx.copyMinRows && !inserts.some((o) => o.quiet)) {
      // Small and not quiet: conflicts are only logged, so the INSERT is held too.
      await defer(ctx, tx, insertRows(shape, sid, inserts, probe), (rows) => {
        for (const op of byOrd(inserts, rows)) conflict(op);
      });
      return events;
    }
    const conflicts = byOrd(
      inserts,
      await insertWithConflicts(ctx, tx, shape, sid, inserts, probe),
    );
    const upserts: PlannedOp<WorkItem>[] = [];
    for (const op of conflicts) {
      if (op.quiet) upserts.push({ ...op, kind: 'update', whereT: op.newT, whereId: op.newId });
      else conflict(op);
    }
    if (upserts.length > 0) await run(ctx, tx, updateRows(shape, sid, upserts));
  }
  return events;
}

/**
 * Inserts go in by COPY. Where a conflict is possible (a key, not FULL) and
 * the target has a unique index on exactly (sid, key), the COPY runs inside
 * a savepoint: conflicts are rare, and a unique violation rolls back to the
 * savepoint and runs the conflict-detecting INSERT instead (with that index
 * as its ON CONFLICT arbiter), so conflicts are found, logged and counted
 * exactly as before. Without such an index only the probe can see an
 * existing key, so it always runs.
 */
async function insertWithConflicts(
  ctx: BatchContext,
  tx: TxState,
  shape: Shape,
  sid: string,
  ops: PlannedOp<WorkItem>[],
  probe: boolean,
): Promise<{ ord: number }[]> {
  if (!probe) {
    await runCopy(ctx, tx, copyRows(shape, sid, ops));
    return [];
  }
  if (!shape.arbiter) return run(ctx, tx, insertRows(shape, sid, ops, true));
  // SAVEPOINT, COPY and RELEASE in one message. A unique violation in the
  // COPY skips the RELEASE; the savepoint exists, so the rollback to it works.
  const copy = copyRows(shape, sid, ops);
  copy.text = `SAVEPOINT kvsz_insert; ${copy.text}; RELEASE SAVEPOINT kvsz_insert`;
  try {
    await runCopy(ctx, tx, copy);
  } catch (e) {
    if (sqlstateOf(e) !== '23505') throw e;
    await tx.script.run('ROLLBACK TO SAVEPOINT kvsz_insert');
    return run(ctx, tx, insertRows(shape, sid, ops, true));
  }
  return [];
}

async function historyRound(
  ctx: BatchContext,
  tx: TxState,
  unit: Unit,
  shape: Shape,
  sid: string,
  round: PlannedOp<WorkItem>[],
): Promise<BatchEvent[]> {
  const events: BatchEvent[] = [];
  const ev = (op: PlannedOp<WorkItem>, kind: BatchEvent['kind']) =>
    events.push({ unit, op, kind, shape });
  // Updates that keep their key and carry every value: their new version
  // needs nothing from the old one (start = the change's time).
  const simple = shape.full
    ? []
    : round.filter((o) => o.kind === 'update' && !o.keyChanged && !hasUnchanged(shape, o.newT));
  const isSimple = new Set(simple);
  const missingSimple = new Set<PlannedOp<WorkItem>>();
  if (simple.length > 0 && shape.keyIndex !== undefined) {
    // Open versions are found by index probes: close every open version of
    // the round in one statement, then COPY the simple updates' new versions
    // (every close precedes every open, as the one-open-version index wants).
    const closing = round.filter((o) => o.kind !== 'insert');
    const missing = byOrd(closing, await run(ctx, tx, closeVersions(shape, sid, closing)));
    // Logged in the order of the one-statement form below: simple updates first.
    for (const op of missing) if (isSimple.has(op)) ev(op, 'update_missing');
    for (const op of missing)
      if (!isSimple.has(op)) ev(op, op.kind === 'delete' ? 'delete_missing' : 'update_missing');
    await runCopy(ctx, tx, copyRows(shape, sid, simple, true));
  } else {
    if (simple.length > 0) {
      // Without an index on the key, one statement closes and reopens (one join, not two).
      for (const op of byOrd(simple, await run(ctx, tx, closeAndReopen(shape, sid, simple)))) {
        ev(op, 'update_missing');
        missingSimple.add(op);
      }
    }
    const closing = round.filter((o) => o.kind !== 'insert' && !isSimple.has(o));
    if (closing.length > 0) {
      for (const op of byOrd(closing, await run(ctx, tx, closeVersions(shape, sid, closing)))) {
        ev(op, op.kind === 'delete' ? 'delete_missing' : 'update_missing');
      }
    }
  }
  const opening = round.filter(
    (o) => o.kind !== 'delete' && (!isSimple.has(o) || missingSimple.has(o)),
  );
  if (opening.length === 0) return events;
  // Inserts need no earlier values: with their earlier versions found by index
  // probes (or, under FULL, not looked for), they go in by COPY.
  const copied = shape.full || shape.keyIndex !== undefined;
  const inserts = copied ? opening.filter((o) => o.kind === 'insert') : [];
  const others = inserts.length > 0 ? opening.filter((o) => o.kind !== 'insert') : opening;
  const refused = new Map<PlannedOp<WorkItem>, BatchEvent['kind']>();
  if (inserts.length > 0) {
    const seen = new Map<PlannedOp<WorkItem>, boolean>();
    if (!shape.full) {
      for (const r of await run(ctx, tx, probeVersions(shape, sid, inserts))) {
        const op = inserts[r.ord - 1]!;
        seen.set(op, r.conflict === true);
        if (r.conflict) refused.set(op, 'insert_conflict');
      }
    }
    const copy = seen.size > 0 ? inserts.filter((o) => seen.get(o) !== true) : inserts;
    // 1900-01-01 for a key never seen, the change's time for one that had versions.
    const start = (o: PlannedOp<WorkItem>) => (seen.has(o) ? o.time : HISTORY_START);
    if (copy.length > 0) await runCopy(ctx, tx, copyRows(shape, sid, copy, true, start));
  }
  if (others.length > 0) {
    for (const r of await run(ctx, tx, insertVersions(shape, sid, others))) {
      refused.set(others[r.ord - 1]!, r.conflict ? 'insert_conflict' : 'unmaterializable');
    }
  }
  // In round order, as one statement would have reported them.
  for (const op of opening) {
    const kind = refused.get(op);
    if (kind) ev(op, kind);
  }
  return events;
}
