import { parseLsn } from '@kuvasz/core';
import type pg from 'pg';

/**
 * With synchronous_commit = off a COMMIT returns before its WAL is on disk.
 * Batches wait here until the destination's WAL flush LSN passes their
 * commit, polled (the WAL writer flushes every wal_writer_delay, 200 ms by
 * default) only while someone waits.
 */
export class WalFlushWaiter {
  private waiters: { lsn: bigint; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private stopped = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly intervalMs = 20,
  ) {}

  get pending(): number {
    return this.waiters.length;
  }

  wait(lsnText: string): Promise<void> {
    const lsn = parseLsn(lsnText);
    return new Promise((resolve, reject) => {
      this.waiters.push({ lsn, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer || this.polling || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, this.intervalMs);
  }

  private async poll(): Promise<void> {
    this.polling = true;
    try {
      const res = await this.pool.query<{ lsn: string }>(
        'SELECT pg_current_wal_flush_lsn()::text AS lsn',
      );
      const flushed = parseLsn(res.rows[0]!.lsn);
      const done = this.waiters.filter((w) => w.lsn <= flushed);
      this.waiters = this.waiters.filter((w) => w.lsn > flushed);
      for (const w of done) w.resolve();
    } catch {
      // Retried on the next tick: positions stay un-reported meanwhile, which is safe.
    } finally {
      this.polling = false;
    }
    if (this.waiters.length > 0) this.schedule();
  }

  async drain(): Promise<void> {
    while (this.waiters.length > 0 && !this.stopped) {
      await new Promise((r) => setTimeout(r, this.intervalMs));
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
