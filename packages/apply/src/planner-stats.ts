import type pg from 'pg';
import type { Logger } from './logger.js';
import type { TargetInfo } from './target-meta.js';

/** How long a run waits for a pooled connection before it tries after the next batch. */
const CONNECT_WAIT_MS = 5_000;

/**
 * Keeps the planner's statistics of the target tables close to what the
 * engine wrote into them. The set-based statements join a batch's keys to
 * the target; with no statistics (a table just created or synced, before
 * autovacuum's first ANALYZE, which may be a minute or more away) the
 * planner guesses a handful of rows for `sid = $1 AND kvsz_end = 'open'`
 * and rescans every open version of the sid once per key: measured, a
 * 1,000,000-change history catch-up ran 75 s instead of 20 s. So a target
 * that grew by a good share since its last ANALYZE (rows the engine added:
 * inserts, and history's new versions) is analyzed: a sample, on a pooled
 * connection of its own, beside the workers (a large table's ANALYZE never
 * holds a lane back), one at a time.
 */
export class PlannerStats {
  private readonly tables = new Map<string, { added: number; baseline: number | undefined }>();
  private current: Promise<void> | undefined;
  private warned = false;

  constructor(
    private readonly pool: Pick<pg.Pool, 'connect'>,
    private readonly logger: Logger,
    /** Rows added before a table that was never analyzed (or is small) is analyzed. */
    private readonly minRows = 1_000,
    /** ... and, past that, the share of its rows at the last ANALYZE. */
    private readonly growth = 0.5,
  ) {}

  /** Counts rows a committed batch added to a target. */
  added(target: TargetInfo, rows: number): void {
    const t = this.tables.get(target.qualified);
    if (t) t.added += rows;
    else this.tables.set(target.qualified, { added: rows, baseline: undefined });
  }

  /** Starts analyzing what is due, unless a run is under way. Never throws. */
  kick(): void {
    if (this.current || this.due().length === 0) return;
    this.current = this.run().finally(() => {
      this.current = undefined;
    });
  }

  /** Resolves when no ANALYZE runs (the engine waits for it when it closes). */
  async idle(): Promise<void> {
    await this.current;
  }

  private due(): string[] {
    const out: string[] = [];
    for (const [name, t] of this.tables) {
      if (t.added < this.minRows) continue;
      if (t.baseline !== undefined && t.added < t.baseline * this.growth) continue;
      out.push(name);
    }
    return out;
  }

  private async run(): Promise<void> {
    let client: pg.PoolClient | undefined;
    const pending = this.pool.connect();
    try {
      // An app pool sized for the workers alone has no connection to spare: try later.
      client = await Promise.race([
        pending,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), CONNECT_WAIT_MS).unref()),
      ]);
    } catch (e) {
      this.warnOnce('(connection)', e);
      return;
    }
    if (!client) {
      pending.then(
        (c) => c.release(),
        () => {},
      );
      return;
    }
    let broken: Error | undefined;
    try {
      for (const name of this.due()) {
        const t = this.tables.get(name)!;
        try {
          await this.analyze(client, name, t);
        } catch (e) {
          await client.query('ROLLBACK').catch((err: unknown) => {
            broken = err instanceof Error ? err : new Error(String(err));
          });
          // Not retried before as many rows again have been added.
          t.baseline = Math.max(t.baseline ?? 0, t.added / this.growth);
          t.added = 0;
          this.warnOnce(name, e);
          if (broken) return;
        }
      }
    } finally {
      client.release(broken);
    }
  }

  private async analyze(
    client: pg.PoolClient,
    name: string,
    t: { added: number; baseline: number | undefined },
  ): Promise<void> {
    const reltuples = async () =>
      (
        await client.query<{ n: number }>(
          'SELECT reltuples::float8 AS n FROM pg_class WHERE oid = $1::regclass',
          [name],
        )
      ).rows[0]?.n ?? -1;
    if (t.baseline === undefined) {
      // First look: the statistics may be fresh already (an analyzed table we only add to).
      const n = await reltuples();
      if (n >= 0 && t.added < n * this.growth) {
        t.baseline = n;
        return;
      }
    }
    const added = t.added;
    await client.query(`BEGIN; SET LOCAL lock_timeout = '1s'; ANALYZE ${name}; COMMIT`);
    const n = await reltuples();
    // Rows added while it ran count toward the next one.
    t.added -= added;
    if (n < 0) {
      // Still never analyzed: ANALYZE only warned (not the owner). Left to autovacuum.
      t.baseline = Number.POSITIVE_INFINITY;
      this.warnOnce(name, new Error('ANALYZE was skipped (the apply role does not own the table)'));
      return;
    }
    t.baseline = n;
    this.logger.debug({ table: name, rows: n }, 'target analyzed');
  }

  private warnOnce(table: string, e: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn(
      { table, err: e instanceof Error ? e.message : String(e) },
      'could not ANALYZE a target table; its statements may be planned on stale statistics until autovacuum analyzes it (make the apply role its owner, or on PostgreSQL 17+ grant it MAINTAIN)',
    );
  }
}
