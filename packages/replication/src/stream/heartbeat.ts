import { type Logger, messageOf, redactPasswords } from '@kuvasz/core';
import type pg from 'pg';
import { openClient } from '../connection.js';

/**
 * Writes a non-transactional logical message into the source database every
 * `intervalMs`, so that a database without traffic still produces WAL for
 * our walsender to pass: its keepalives then let an idle slot advance.
 * Failures are logged and retried on the next beat; they never stop the stream.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private client: pg.Client | undefined;
  private running = false;
  private stopped = false;

  constructor(
    private readonly connectionString: string,
    private readonly intervalMs: number,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  async beat(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      this.client ??= await openClient(this.connectionString, {
        applicationName: 'kuvasz-heartbeat',
      });
      await this.client.query('SELECT pg_logical_emit_message(false, $1, $2)', [
        this.prefix,
        new Date().toISOString(),
      ]);
    } catch (e) {
      this.log.warn(
        { err: redactPasswords(messageOf(e)) },
        'heartbeat failed; retrying at the next beat',
      );
      const c = this.client;
      this.client = undefined;
      await c?.end().catch(() => {});
    } finally {
      this.running = false;
    }
    if (this.stopped) await this.closeClient();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.running) await this.closeClient();
  }

  private async closeClient(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }
}
