import { sqlstateOf } from '@kuvasz/core';
import type pg from 'pg';
import { INSERT_SAVEPOINT, type PlanEvent, type Row, type Step } from '../planner/program.js';
import { inlineParams } from '../planner/sql-literal.js';
import type { Staged } from '../planner/statement-parts.js';
import type { Statement } from '../planner/statements.js';
import { BatchScript } from './batch-script.js';

export type StepName =
  | 'planned'
  | 'statement'
  | 'before-commit'
  | 'after-commit'
  | 'before-durable';

type Client = Pick<pg.PoolClient, 'query'>;

/** Every join of the batch to the target an index probe by key (see `Statement.nestedLoop`). */
const NESTED_LOOP_ON = [
  "set_config('enable_hashjoin', 'off', true)",
  "set_config('enable_mergejoin', 'off', true)",
];
const NESTED_LOOP_OFF = [
  'SET LOCAL enable_hashjoin TO DEFAULT',
  'SET LOCAL enable_mergejoin TO DEFAULT',
];
/** A custom plan per execution would parse nothing but still plan every time. */
const GENERIC_PLANS = "set_config('plan_cache_mode', 'force_generic_plan', true)";

/** The settings a statement with `nestedLoop` runs under, as one statement (tests mimic the engine with it). */
export const nestedLoopSql = (generic: boolean): string =>
  `SELECT ${[...(generic ? [GENERIC_PLANS] : []), ...NESTED_LOOP_ON].join(', ')}`;

/**
 * Batches of up to this many rows run as prepared statements with generic
 * plans (see prepared-statements.ts): a generic plan assumes about 100 rows
 * from an array parameter, right for these; larger batches are staged,
 * copied, or planned with their values in view.
 */
export const PREPARED_MAX_ROWS = 200;
/** Nor when the values are large (a generic plan gains nothing next to their transfer). */
const PREPARED_MAX_VALUE_CHARS = 256 * 1024;

/**
 * Held SQL text (UTF-16 units, up to 3 bytes each) is sent once it passes
 * this: well under the 1 GB a PostgreSQL message may hold.
 */
const HELD_CHARS_LIMIT = 64 * 1024 * 1024;

/** A statement of the commit: literal SQL, or a statement with parameters (prepared where it can be). */
export type FinalStatement = string | { text: string; values: readonly unknown[] };

/**
 * One destination transaction on one connection: BEGIN, the planned steps
 * of one or more groups, the position, COMMIT. Statements share round trips
 * (BatchScript): whatever nothing waits for travels with the next statement
 * whose answer is needed, so a group of updates, deletes and small inserts
 * is a single round trip. `hook` is called between round trips (crash
 * points in tests).
 */
export class DestinationTx {
  readonly script: BatchScript;
  /** Whether hash and merge joins are off (SET LOCAL lasts until the transaction ends). */
  private nestedLoop = false;
  /** Staging tables this transaction has filled. */
  private readonly filled = new Set<string>();
  /** Whether plan_cache_mode is set for this transaction's prepared statements. */
  private genericPlans = false;

  constructor(
    client: Client,
    private readonly hook: (name: StepName) => Promise<void>,
    synchronousCommit: 'on' | 'off',
  ) {
    this.script = new BatchScript(client);
    this.script.add('BEGIN');
    if (synchronousCommit === 'off') this.script.add('SET LOCAL synchronous_commit = off');
  }

  /** Runs `steps` in order, each step's follow-ups right after it; events go to `sink` as answers arrive. */
  async run<R>(steps: Step<R>[], sink: (events: PlanEvent<R>[]) => void): Promise<void> {
    for (const step of steps) {
      if (step.kind === 'copy') {
        await this.copy(step, sink);
        continue;
      }
      if (step.statement.staged) this.stage(step.statement.staged);
      if (step.deferred) {
        const report = step.report;
        this.hold(step.statement, report ? (rows) => sink(report(rows)) : undefined);
        if (await this.script.flushIfOver(HELD_CHARS_LIMIT)) await this.hook('statement');
        continue;
      }
      let rows: Row[] = [];
      this.hold(step.statement, (r) => {
        rows = r;
      });
      await this.script.flush();
      await this.hook('statement');
      if (step.after) {
        const out = step.after(rows);
        if (out.events && out.events.length > 0) sink(out.events);
        if (out.next && out.next.length > 0) await this.run(out.next, sink);
      }
    }
  }

  private async copy<R>(
    step: Extract<Step<R>, { kind: 'copy' }>,
    sink: (events: PlanEvent<R>[]) => void,
  ): Promise<void> {
    if (!step.onUniqueViolation) {
      await this.script.copy(step.copy);
      await this.hook('statement');
      return;
    }
    try {
      await this.script.copy(step.copy);
    } catch (e) {
      if (sqlstateOf(e) !== '23505') throw e;
      await this.script.run(`ROLLBACK TO SAVEPOINT ${INSERT_SAVEPOINT}`);
      await this.hook('statement');
      await this.run(step.onUniqueViolation(), sink);
      return;
    }
    await this.hook('statement');
  }

  /**
   * Holds the COPY of a batch into its staging table, created on the
   * transaction's first use (IF NOT EXISTS: a session keeps it, but a
   * rolled-back CREATE or a new session has none), emptied on a second use
   * (whatever read its earlier rows travels in front of it). Nothing waits:
   * the COPY goes with the statement that reads it, in one message.
   */
  private stage(staged: Staged): void {
    if (this.filled.has(staged.table)) this.script.add(`DELETE FROM ${staged.table}`);
    else {
      this.script.add(staged.ddl);
      this.filled.add(staged.table);
    }
    this.script.addCopy(staged.copy);
  }

  private hold(st: Statement, onRows: ((rows: Row[]) => void) | undefined): void {
    const prepared = preparable(st);
    this.settings(st, prepared);
    if (prepared) this.script.addPrepared(st.text, st.values, onRows);
    else this.script.add(inlineParams(st.text, st.values), 1, onRows);
  }

  /**
   * The planner settings the statement wants, in front of it, in one
   * statement where they can be. A prepared statement (at most
   * PREPARED_MAX_ROWS rows) does not need hash and merge joins back: nested
   * loops over so few rows cost nothing, so they stay off.
   */
  private settings(st: Statement, prepared: boolean): void {
    const sets: string[] = [];
    if (prepared && !this.genericPlans) {
      sets.push(GENERIC_PLANS);
      this.genericPlans = true;
    }
    const nestedLoop = st.nestedLoop === true;
    if (nestedLoop && !this.nestedLoop) {
      sets.push(...NESTED_LOOP_ON);
      this.nestedLoop = true;
    }
    if (sets.length > 0) this.script.add(`SELECT ${sets.join(', ')}`);
    if (!nestedLoop && this.nestedLoop && !prepared) {
      for (const sql of NESTED_LOOP_OFF) this.script.add(sql);
      this.nestedLoop = false;
    }
  }

  /** Sends what is held: errors surface here (one change at a time, in exact mode). */
  async flush(): Promise<void> {
    if (!this.script.pending) return;
    await this.script.flush();
    await this.hook('statement');
  }

  /**
   * `finalSql` (the positions), COMMIT and, with synchronous_commit off, the
   * WAL insert position that covers the commit record, in one message with
   * whatever is still held: an error anywhere skips the COMMIT.
   */
  async commit(
    finalSql: string | FinalStatement[],
    synchronousCommit: 'on' | 'off',
  ): Promise<string | undefined> {
    await this.hook('before-commit');
    for (const st of typeof finalSql === 'string' ? [finalSql] : finalSql) {
      if (typeof st === 'string') this.script.add(st);
      else this.script.addPrepared(st.text, st.values);
    }
    this.script.add('COMMIT');
    let walLsn: string | undefined;
    if (synchronousCommit === 'off') {
      // After COMMIT, in its own implicit transaction.
      this.script.add('SELECT pg_current_wal_insert_lsn()::text AS lsn', 1, (rows) => {
        walLsn = rows[0]?.lsn as string | undefined;
      });
    }
    await this.script.flush();
    await this.hook('after-commit');
    return walLsn;
  }
}

/** Whether a statement runs as a prepared statement (see PREPARED_MAX_ROWS). */
function preparable(st: Statement): boolean {
  if (st.staged || st.values.length === 0 || (st.rows ?? 0) > PREPARED_MAX_ROWS) return false;
  let chars = 0;
  for (const v of st.values) if (typeof v === 'string') chars += v.length;
  return chars <= PREPARED_MAX_VALUE_CHARS;
}
