/**
 * How many sources create their slot and copy at once, process-wide
 * (`sync.parallel_sources`). A copying source holds its replication
 * connection (which exported the snapshot) and its copy connections to the
 * source server; without a limit, many tenant databases of one server
 * starting together exhaust its max_connections. Turns are given in the
 * order they were asked for.
 */
export class SyncGate {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** Sources copying now / waiting for a turn. */
  get copying(): number {
    return this.active;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Resolves with the release of a turn once one is free; `onWait` is called
   * first when the caller has to wait. Rejects with the signal's reason if
   * it is aborted while waiting (nothing to release then).
   */
  async acquire(signal: AbortSignal, onWait?: () => void): Promise<() => void> {
    signal.throwIfAborted();
    if (this.active >= this.limit) {
      onWait?.();
      await new Promise<void>((resolve, reject) => {
        const turn = () => {
          signal.removeEventListener('abort', abort);
          resolve();
        };
        const abort = () => {
          const i = this.queue.indexOf(turn);
          if (i >= 0) this.queue.splice(i, 1);
          reject(signal.reason);
        };
        this.queue.push(turn);
        signal.addEventListener('abort', abort, { once: true });
      });
    } else this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The turn passes straight to the next waiter (active stays counted).
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    };
  }
}
