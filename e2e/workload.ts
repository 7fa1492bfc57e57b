import type { PgCluster } from '@kuvasz/testkit';
import { waitFor } from '@kuvasz/testkit';
import type pg from 'pg';

/** One transaction of a workload: `i` counts from 1; runs between BEGIN and COMMIT. */
export type WorkloadStep = (client: pg.Client, i: number) => Promise<void>;

/**
 * A steady stream of source transactions on its own connection, until
 * `stop()`. `commits` counts the transactions whose COMMIT returned. With
 * `survive: true` a failed transaction (the server restarting under it) is
 * dropped, the connection reopened and the loop goes on; otherwise the first
 * error stops the loop and `stop()` rethrows it.
 */
export class Workload {
  commits = 0;
  failures = 0;
  private running = true;
  private paused: Promise<void> | undefined;
  private resumePaused: (() => void) | undefined;
  private readonly done: Promise<void>;
  private error: unknown;

  constructor(
    private readonly cluster: PgCluster,
    private readonly db: string,
    private readonly step: WorkloadStep,
    private readonly options: { survive?: boolean; pauseMs?: number } = {},
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    let client: pg.Client | undefined;
    let i = 0;
    try {
      while (this.running) {
        if (this.paused) await this.paused;
        if (!this.running) break;
        try {
          if (!client) {
            client = await this.cluster.connect(this.db);
            // A server restart between two transactions ends the idle connection with an
            // 'error' event; unheard, it would be an uncaught exception. The next query fails
            // and is handled below.
            client.on('error', () => {});
          }
          i++;
          await client.query('BEGIN');
          await this.step(client, i);
          await client.query('COMMIT');
          this.commits++;
        } catch (err: unknown) {
          if (!this.options.survive) throw err;
          this.failures++;
          await client?.end().catch(() => undefined);
          client = undefined;
          await new Promise((r) => setTimeout(r, 100));
        }
        if (this.options.pauseMs) await new Promise((r) => setTimeout(r, this.options.pauseMs));
      }
    } catch (err: unknown) {
      this.error = err;
    } finally {
      await client?.end().catch(() => undefined);
    }
  }

  /** Holds the loop between two transactions until `resume()`. */
  pause(): void {
    this.paused ??= new Promise((r) => {
      this.resumePaused = r;
    });
  }

  resume(): void {
    this.resumePaused?.();
    this.paused = undefined;
  }

  /** Stops after the current transaction and resolves once the connection is closed. */
  async stop(): Promise<void> {
    this.running = false;
    this.resume();
    await this.done;
    if (this.error) throw this.error;
  }
}

/** Waits until the workload committed `n` more transactions than now. */
export async function commitsMore(w: Workload, n: number, timeoutMs = 30_000): Promise<void> {
  const target = w.commits + n;
  await waitFor(() => w.commits >= target, {
    timeoutMs,
    intervalMs: 20,
    message: `the workload to commit ${target} transactions (${w.commits} so far, ${w.failures} failed)`,
  });
}
