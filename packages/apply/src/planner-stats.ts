import type pg from 'pg';
import type { Logger } from './logger.js';
import type { TargetInfo } from './target-meta.js';

/**
 * Keeps the planner's statistics of the target tables close to what the
 * engine wrote into them. The set-based statements join a batch's keys to
 * the target; with no statistics (a table just created or synced, before
 * autovacuum's first ANALYZE, which may be a minute or more away) the
 * planner guesses a handful of rows for `sid = $1 AND kvsz_end = 'open'`
 * and rescans every open version of the sid once per key: measured, a
 * 1,000,000-change history catch-up ran 75 s instead of 17 s. So after a
 * batch, a target the engine has written a good share of its rows into
 * since its last ANALYZE is analyzed (a sample, on the worker's connection,
 * after the batch committed: it never holds back an acknowledgement).
 */
export class PlannerStats {
  private readonly tables = new Map<string, { written: number; baseline: number | undefined }>();
  private readonly running = new Set<string>();
  private warned = false;

  constructor(
    private readonly logger: Logger,
    /** Rows written before a table that was never analyzed (or is small) is analyzed. */
    private readonly minRows = 1_000,
    /** ... and, past that, the share of its rows at the last ANALYZE. */
    private readonly growth = 0.5,
  ) {}

  /** Counts rows written into a target by a committed batch. */
  wrote(target: TargetInfo, rows: number): void {
    const t = this.tables.get(target.qualified);
    if (t) t.written += rows;
    else this.tables.set(target.qualified, { written: rows, baseline: undefined });
  }

  /** Targets due for an ANALYZE (not already running one). */
  due(): string[] {
    const out: string[] = [];
    for (const [name, t] of this.tables) {
      if (this.running.has(name) || t.written < this.minRows) continue;
      if (t.baseline !== undefined && t.written < t.baseline * this.growth) continue;
      out.push(name);
    }
    return out;
  }

  /**
   * Analyzes what is due. Best effort: a failure (no right to ANALYZE, a lock
   * not granted within a second) is logged once and the table is left to
   * autovacuum.
   */
  async analyze(client: Pick<pg.ClientBase, 'query'>): Promise<void> {
    for (const name of this.due()) {
      const t = this.tables.get(name)!;
      this.running.add(name);
      try {
        if (t.baseline === undefined) {
          // First look: the statistics may be fresh already (an analyzed table we only add to).
          const r = await client.query<{ n: number }>(
            'SELECT reltuples::float8 AS n FROM pg_class WHERE oid = $1::regclass',
            [name],
          );
          const n = r.rows[0]?.n ?? -1;
          if (n >= 0 && t.written < n * this.growth) {
            t.baseline = n;
            continue;
          }
        }
        await client.query(`BEGIN; SET LOCAL lock_timeout = '1s'; ANALYZE ${name}; COMMIT`);
        const r = await client.query<{ n: number }>(
          'SELECT reltuples::float8 AS n FROM pg_class WHERE oid = $1::regclass',
          [name],
        );
        const n = r.rows[0]?.n ?? -1;
        t.written = 0;
        if (n < 0) {
          // Still never analyzed: ANALYZE only warned (no right to it). Leave it to autovacuum.
          t.baseline = Number.POSITIVE_INFINITY;
          this.warnOnce(name, 'ANALYZE was skipped (not the owner)');
          continue;
        }
        t.baseline = n;
        this.logger.debug({ table: name, rows: n }, 'target analyzed');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        // Not retried before as many rows again have been written.
        t.baseline = Math.max(t.baseline ?? 0, t.written / this.growth);
        t.written = 0;
        this.warnOnce(name, e instanceof Error ? e.message : String(e));
      } finally {
        this.running.delete(name);
      }
    }
  }

  private warnOnce(table: string, err: string): void {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn(
      { table, err },
      'could not ANALYZE a target table; its statements may be planned on stale statistics until autovacuum analyzes it (make the apply role its owner, or on PostgreSQL 17+ grant it MAINTAIN)',
    );
  }
}
