import { HISTORY_START } from '../target/target-ddl.js';
import { type CopyStatement, copyRows } from './copy-rows.js';
import type { PlanUnit, Task } from './group-plan.js';
import { hasUnchanged, type PlannedOp } from './plan-units.js';
import type { Shape } from './shape.js';
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

/** What statements return: the `ord`s of changes that matched nothing or conflicted, and how. */
export type Row = {
  ord: number;
  conflict?: boolean;
  outcome?: string;
};

export type EventKind =
  | 'insert_conflict'
  | 'update_missing'
  | 'delete_missing'
  | 'unmaterializable';

/** A conflict the spec wants logged and counted (not an error). */
export interface PlanEvent<R> {
  op: PlannedOp<R>;
  kind: EventKind;
}

/** What an answered statement leads to: events, and statements that depend on its answer. */
export interface Outcome<R> {
  events?: PlanEvent<R>[];
  next?: Step<R>[];
}

/**
 * One statement of a task. `deferred` statements' answers only feed events,
 * so they may travel with the next message; the others are sent and
 * answered before the next step, whose text may depend on the answer
 * (`after`). A COPY with `onUniqueViolation` runs in a savepoint: on a unique
 * violation the executor rolls back to it and runs those steps instead.
 */
export type Step<R> =
  | { kind: 'sql'; statement: Statement; deferred: true; report?: (rows: Row[]) => PlanEvent<R>[] }
  | { kind: 'sql'; statement: Statement; deferred: false; after?: (rows: Row[]) => Outcome<R> }
  | { kind: 'copy'; copy: CopyStatement; onUniqueViolation?: () => Step<R>[] };

export interface ProgramContext {
  /** The source's sid, written into targets that have a sid column. */
  sid: string;
  /** Inserts of at least this many rows go by COPY; fewer go in an INSERT with the next message. */
  copyMinRows: number;
  /**
   * Updates, deletes and closed history versions of at least this many rows
   * are staged in a temporary table by COPY (see `Staged`); fewer go as
   * array literals in the statement. `Infinity`: never (no TEMP privilege).
   */
  stageMinRows: number;
}

/**
 * Below this many rows an INSERT statement goes in with the statements around
 * it (no round trip of its own); from it on, COPY's cheaper parsing wins
 * over the extra round trip its CopyInResponse costs.
 */
export const COPY_MIN_ROWS = 100;

/** The savepoint a COPY that may conflict runs in. */
export const INSERT_SAVEPOINT = 'kvsz_insert';

function byOrd<T>(ops: T[], rows: { ord: number }[]): T[] {
  return rows.map((r) => ops[r.ord - 1]!);
}

const events = <R>(ops: PlannedOp<R>[], kind: EventKind) => ops.map((op) => ({ op, kind }));

/**
 * The statements of one task, as a pure function of the plan (and, through
 * `after`, of the answers). The executor runs them in order, each `next` right
 * after the step that produced it.
 */
export function taskSteps<U extends PlanUnit, R>(task: Task<U, R>, ctx: ProgramContext): Step<R>[] {
  switch (task.kind) {
    case 'truncate':
      return [
        {
          kind: 'sql',
          statement: truncateRows(task.unit.target, ctx.sid, task.time),
          deferred: true,
        },
      ];
    case 'delete':
      return [
        {
          kind: 'sql',
          statement: deleteRows(task.shape, ctx.sid, task.ops, task.ops.length >= ctx.stageMinRows),
          deferred: true,
          report: (rows) => events(byOrd(task.ops, rows), 'delete_missing'),
        },
      ];
    case 'update':
      return updateSteps(task.shape, task.ops, ctx);
    case 'insert':
      return insertSteps(task.shape, task.ops, ctx);
    case 'history':
      return historySteps(task.shape, task.ops, ctx);
  }
}

function updateSteps<R>(shape: Shape, ops: PlannedOp<R>[], ctx: ProgramContext): Step<R>[] {
  if (!shape.full && shape.arbiter && !ops.some((o) => o.quiet)) {
    // The update inserts what it missed itself: held, like a DELETE.
    return [
      {
        kind: 'sql',
        statement: updateOrInsertRows(shape, ctx.sid, ops, ops.length >= ctx.stageMinRows),
        deferred: true,
        report: (missed) => {
          const out: PlanEvent<R>[] = [];
          for (const r of missed) {
            const kind = r.outcome === 'unmaterializable' ? 'unmaterializable' : 'update_missing';
            out.push({ op: ops[r.ord - 1]!, kind });
          }
          for (const r of missed)
            if (r.outcome === 'conflict')
              out.push({ op: ops[r.ord - 1]!, kind: 'insert_conflict' });
          return out;
        },
      },
    ];
  }
  return [
    {
      kind: 'sql',
      statement: updateRows(shape, ctx.sid, ops, ops.length >= ctx.stageMinRows),
      deferred: false,
      after: (rows) => {
        const out: PlanEvent<R>[] = [];
        const inserts: PlannedOp<R>[] = [];
        for (const op of byOrd(ops, rows)) {
          // A missing row is inserted from the new values, unless some are unchanged TOAST: never NULL them.
          if (hasUnchanged(shape, op.newT)) out.push({ op, kind: 'unmaterializable' });
          else {
            out.push({ op, kind: 'update_missing' });
            inserts.push(op);
          }
        }
        return { events: out, next: inserts.length > 0 ? insertSteps(shape, inserts, ctx) : [] };
      },
    },
  ];
}

/**
 * Clone / append inserts. Where a conflict is possible (a key, not FULL) and
 * the target has a unique index on exactly (sid, key), the COPY runs inside a
 * savepoint: conflicts are rare, and a unique violation rolls back to the
 * savepoint and runs the conflict-detecting INSERT instead (with that index
 * as its ON CONFLICT arbiter), so conflicts are found, logged and counted.
 * Without such an index only the probe can see an existing key, so it always
 * runs. Quiet (reconcile) conflicts become updates.
 */
function insertSteps<R>(shape: Shape, ops: PlannedOp<R>[], ctx: ProgramContext): Step<R>[] {
  const probe = !shape.full && shape.keyCols.length > 0;
  if (ops.length < ctx.copyMinRows && !ops.some((o) => o.quiet)) {
    // Small and not quiet: conflicts are only logged, so the INSERT is held too.
    return [
      {
        kind: 'sql',
        statement: insertRows(shape, ctx.sid, ops, probe),
        deferred: true,
        report: (rows) => events(byOrd(ops, rows), 'insert_conflict'),
      },
    ];
  }
  if (!probe) return [{ kind: 'copy', copy: copyRows(shape, ctx.sid, ops) }];
  // Built only when it runs: with an arbiter it is the rare path, and building it
  // renders every value of the batch as a literal.
  const detect = (): Step<R> => ({
    kind: 'sql',
    statement: insertRows(shape, ctx.sid, ops, true),
    deferred: false,
    after: (rows) => {
      const upserts: PlannedOp<R>[] = [];
      const out: PlanEvent<R>[] = [];
      for (const op of byOrd(ops, rows)) {
        // Fields named, not spread: a wire insert's newT is a getter on its prototype.
        if (op.quiet)
          upserts.push({
            kind: 'update',
            newT: op.newT,
            whereT: op.newT,
            keyChanged: false,
            time: op.time,
            quiet: op.quiet,
            leaves: op.leaves,
            refs: op.refs,
            newId: op.newId,
            whereId: op.newId,
            seq: op.seq,
            level: op.level,
          });
        else out.push({ op, kind: 'insert_conflict' });
      }
      const next: Step<R>[] =
        upserts.length > 0
          ? [{ kind: 'sql', statement: updateRows(shape, ctx.sid, upserts), deferred: false }]
          : [];
      return { events: out, next };
    },
  });
  if (!shape.arbiter) return [detect()];
  // SAVEPOINT, COPY and RELEASE in one message. A unique violation in the
  // COPY skips the RELEASE; the savepoint exists, so the rollback to it works.
  const copy = copyRows(shape, ctx.sid, ops);
  copy.text = `SAVEPOINT ${INSERT_SAVEPOINT}; ${copy.text}; RELEASE SAVEPOINT ${INSERT_SAVEPOINT}`;
  return [{ kind: 'copy', copy, onUniqueViolation: () => [detect()] }];
}

/**
 * One history round (no two operations on one key). With an index on the
 * key, open versions are closed by index probes in one statement and the new
 * versions of updates that carry every value go in by COPY (every close
 * precedes every open, as the one-open-version index wants). Without one, an
 * update that keeps its key closes and reopens in one statement (one join,
 * not two). Inserts probe their key's earlier versions (1900-01-01 for a key
 * never seen, the change's time for one that had versions, a conflict for an
 * open one) and go in by COPY; the rest opens with the values of the version
 * just closed where TOAST values are unchanged.
 */
function historySteps<R>(shape: Shape, round: PlannedOp<R>[], ctx: ProgramContext): Step<R>[] {
  const sid = ctx.sid;
  // Updates that keep their key and carry every value: their new version
  // needs nothing from the old one (start = the change's time).
  const simple = shape.full
    ? []
    : round.filter((o) => o.kind === 'update' && !o.keyChanged && !hasUnchanged(shape, o.newT));
  const isSimple = new Set(simple);
  if (simple.length > 0 && shape.keyIndex !== undefined) {
    const closing = round.filter((o) => o.kind !== 'insert');
    return [
      {
        kind: 'sql',
        statement: closeVersions(shape, sid, closing, closing.length >= ctx.stageMinRows),
        deferred: true,
        report: (rows) =>
          byOrd(closing, rows).map((op) => ({
            op,
            kind: op.kind === 'delete' ? 'delete_missing' : 'update_missing',
          })),
      },
      { kind: 'copy', copy: copyRows(shape, sid, simple, true) },
      ...openingSteps(
        shape,
        round.filter((o) => o.kind !== 'delete' && !isSimple.has(o)),
        ctx,
      ),
    ];
  }
  const closing = round.filter((o) => o.kind !== 'insert' && !isSimple.has(o));
  const rest = (missingSimple: Set<PlannedOp<R>>): Step<R>[] => [
    ...(closing.length > 0
      ? [
          {
            kind: 'sql' as const,
            statement: closeVersions(shape, sid, closing, closing.length >= ctx.stageMinRows),
            deferred: true as const,
            report: (rows: Row[]) =>
              byOrd(closing, rows).map((op) => ({
                op,
                kind: (op.kind === 'delete' ? 'delete_missing' : 'update_missing') as EventKind,
              })),
          },
        ]
      : []),
    ...openingSteps(
      shape,
      round.filter((o) => o.kind !== 'delete' && (!isSimple.has(o) || missingSimple.has(o))),
      ctx,
    ),
  ];
  if (simple.length === 0) return rest(new Set());
  return [
    {
      kind: 'sql',
      statement: closeAndReopen(shape, sid, simple, simple.length >= ctx.stageMinRows),
      deferred: false,
      after: (rows) => {
        const missing = byOrd(simple, rows);
        return { events: events(missing, 'update_missing'), next: rest(new Set(missing)) };
      },
    },
  ];
}

/** History: new versions, for inserts (COPY after a probe of earlier versions) and the rest. */
function openingSteps<R>(shape: Shape, opening: PlannedOp<R>[], ctx: ProgramContext): Step<R>[] {
  if (opening.length === 0) return [];
  const sid = ctx.sid;
  // Inserts need no earlier values: with their earlier versions found by index
  // probes (or, under FULL, not looked for), they go in by COPY.
  const copied = shape.full || shape.keyIndex !== undefined;
  const inserts = copied ? opening.filter((o) => o.kind === 'insert') : [];
  const others = inserts.length > 0 ? opening.filter((o) => o.kind !== 'insert') : opening;
  const steps: Step<R>[] = [];
  if (inserts.length > 0) {
    if (shape.full) {
      steps.push({ kind: 'copy', copy: copyRows(shape, sid, inserts, true, () => HISTORY_START) });
    } else {
      steps.push({
        kind: 'sql',
        statement: probeVersions(shape, sid, inserts),
        deferred: false,
        after: (rows) => {
          const seen = new Map<PlannedOp<R>, boolean>();
          const out: PlanEvent<R>[] = [];
          for (const r of rows) {
            const op = inserts[r.ord - 1]!;
            seen.set(op, r.conflict === true);
            if (r.conflict) out.push({ op, kind: 'insert_conflict' });
          }
          const copy = inserts.filter((o) => seen.get(o) !== true);
          // 1900-01-01 for a key never seen, the change's time for one that had versions.
          const start = (o: PlannedOp<R>) => (seen.has(o) ? o.time : HISTORY_START);
          return {
            events: out,
            next:
              copy.length > 0
                ? [{ kind: 'copy', copy: copyRows(shape, sid, copy, true, start) }]
                : [],
          };
        },
      });
    }
  }
  if (others.length > 0) {
    steps.push({
      kind: 'sql',
      statement: insertVersions(shape, sid, others),
      deferred: true,
      report: (rows) =>
        rows.map((r) => ({
          op: others[r.ord - 1]!,
          kind: r.conflict ? 'insert_conflict' : 'unmaterializable',
        })),
    });
  }
  return steps;
}
