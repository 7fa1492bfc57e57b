import type { Logger } from '@kuvasz/core';
import type pg from 'pg';
import type { TargetInfo } from '../target/target-meta.js';

/** How long a run waits for a pooled connection before it tries after the next batch. */
const CONNECT_WAIT_MS = 5_000;

/**
 * Keeps the planner's statistics of the target tables close to what the
 * engine wrote into them. The set-based statements join a batch's keys to
 * the target; with no statistics (a table just created or synced, before
 * autovacuum's first ANALYZE, which may be a minute or more away) the
 * planner guesses a handful of rows for `sid = $1 AND kvsz_end = 'open'`
 * and rescans every open version of the sid once per key: measured, a
 * 1,000,000-change history catch-up ran 75 s instead of 20 s. So a filled
 * target never analyzed is analyzed before its first batch, and a target
 * that grew by a good share since its last ANALYZE (rows the engine added:
 * inserts, and history's new versions) is analyzed: a sample, on a pooled
 * connection of its own, beside the workers (a large table's ANALYZE never
 * holds a worker back), one at a time.
 */
export class TableStatistics {
  private readonly tables = new Map<string, { added: number; baseline: number | undefined }>();
  /** Targets looked at before their first batch (see `firstLook`), by name. */
  private readonly looked = new Map<string, Promise<void>>();
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
    this.entry(target.qualified).added += rows;
  }

  /**
   * Before a target's first batch: one that was never analyzed but already
   * holds rows (copied in by the initial sync, or filled by someone else) is
   * analyzed now, on the worker's connection, so that not even the first
   * batch is planned blind. Once per target; concurrent workers wait for the
   * same look. Best effort, like the rest.
   */
  async firstLook(client: Pick<pg.ClientBase, 'query'>, target: TargetInfo): Promise<void> {
    const name = target.qualified;
    let look = this.looked.get(name);
    if (!look) {
      look = this.look(client, name).catch((e: unknown) => {
        this.warnOnce(name, e);
        return client.query('ROLLBACK').then(
          () => undefined,
          () => undefined,
        );
      });
      this.looked.set(name, look);
    }
    await look;
  }

  private async look(client: Pick<pg.ClientBase, 'query'>, name: string): Promise<void> {
    const t = this.entry(name);
    const { tuples, pages } = await relStats(client, name);
    // Never analyzed: -1 on PostgreSQL 14+, 0 tuples in 0 pages before (as for an empty table).
    if (tuples > 0 || (tuples === 0 && pages > 0)) {
      t.baseline ??= tuples;
      return;
    }
    const r = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM ${name} LIMIT ${this.minRows}) s`,
    );
    if ((r.rows[0]?.n ?? 0) < this.minRows) return;
    await this.analyze(client, name, t);
  }

  private entry(name: string): { added: number; baseline: number | undefined } {
    let t = this.tables.get(name);
    if (!t) {
      t = { added: 0, baseline: undefined };
      this.tables.set(name, t);
    }
    return t;
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
          await this.analyzeDue(client, name, t);
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

  /** The due check of a run: a table whose statistics are fresh already only gets its baseline. */
  private async analyzeDue(
    client: pg.PoolClient,
    name: string,
    t: { added: number; baseline: number | undefined },
  ): Promise<void> {
    if (t.baseline === undefined) {
      const n = await reltuples(client, name);
      if (n >= 0 && t.added < n * this.growth) {
        t.baseline = n;
        return;
      }
    }
    await this.analyze(client, name, t);
  }

  private async analyze(
    client: Pick<pg.ClientBase, 'query'>,
    name: string,
    t: { added: number; baseline: number | undefined },
  ): Promise<void> {
    const added = t.added;
    await client.query(`BEGIN; SET LOCAL lock_timeout = '1s'; ANALYZE ${name}; COMMIT`);
    const n = await reltuples(client, name);
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

/** `pg_class.reltuples` and `relpages` as of the last ANALYZE or VACUUM. */
async function relStats(
  client: Pick<pg.ClientBase, 'query'>,
  name: string,
): Promise<{ tuples: number; pages: number }> {
  const r = await client.query<{ tuples: number; pages: number }>(
    'SELECT reltuples::float8 AS tuples, relpages AS pages FROM pg_class WHERE oid = $1::regclass',
    [name],
  );
  return r.rows[0] ?? { tuples: -1, pages: 0 };
}

/** `pg_class.reltuples`: -1 for a table never analyzed (PostgreSQL 14+; 0 before). */
async function reltuples(client: Pick<pg.ClientBase, 'query'>, name: string): Promise<number> {
  return (await relStats(client, name)).tuples;
}
