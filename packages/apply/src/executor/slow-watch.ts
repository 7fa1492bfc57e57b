import type { Logger } from '@kuvasz/core';

/** A destination transaction running longer than this is logged (and again every `repeatMs`). */
export const SLOW_GROUP_MS = 10_000;
const REPEAT_MS = 60_000;

/**
 * Names destination transactions that take unusually long, while they run:
 * a statement planned badly, a lock held by another client, a destination
 * short of I/O. Without it a source waiting on one of them looks idle to the
 * operator (nothing fails, so nothing else is logged).
 */
export class SlowWatch {
  private readonly running = new Map<
    number,
    { source: string; started: number; step: string; timer: NodeJS.Timeout; warned: boolean }
  >();

  constructor(
    private readonly logger: Logger,
    private readonly afterMs = SLOW_GROUP_MS,
    private readonly repeatMs = REPEAT_MS,
  ) {}

  /** A worker began a destination transaction for `source`. */
  begin(worker: number, source: string): void {
    this.end(worker);
    const started = Date.now();
    const entry = {
      source,
      started,
      step: 'starting',
      warned: false,
      timer: undefined as unknown as NodeJS.Timeout,
    };
    const warn = () => {
      entry.warned = true;
      this.logger.warn(
        { worker, source, runningMs: Date.now() - started, step: entry.step },
        'destination slow: a group is still running; see pg_stat_activity on the destination for what it waits on',
      );
      entry.timer = setTimeout(warn, this.repeatMs);
      entry.timer.unref();
    };
    entry.timer = setTimeout(warn, this.afterMs);
    entry.timer.unref();
    this.running.set(worker, entry);
  }

  /** What the worker's transaction is doing now, for the warning. */
  step(worker: number, step: string): void {
    const e = this.running.get(worker);
    if (e) e.step = step;
  }

  end(worker: number): void {
    const e = this.running.get(worker);
    if (!e) return;
    clearTimeout(e.timer);
    this.running.delete(worker);
    if (e.warned) {
      this.logger.info(
        { worker, source: e.source, tookMs: Date.now() - e.started },
        'slow group finished',
      );
    }
  }
}
