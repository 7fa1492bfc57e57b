export interface BackoffOptions {
  /** The ceiling of the first wait (attempt 0). */
  initialMs: number;
  /** The ceiling of every wait. */
  maxMs: number;
}

/**
 * Capped exponential backoff with "equal jitter": attempt `n` (from 0) waits
 * between half and all of `min(maxMs, initialMs * 2^n)`. The random half
 * spreads out clients that failed together; the fixed half keeps the wait
 * growing.
 */
export function backoffMs(attempt: number, options: BackoffOptions): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** `backoffMs` with its attempt counter: `next()` after each failure, `reset()` after a success. */
export class Backoff {
  private attempt = 0;
  private readonly options: BackoffOptions;

  constructor(options: BackoffOptions) {
    this.options = { ...options };
  }

  next(): number {
    return backoffMs(this.attempt++, this.options);
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Resolves after `ms`, or early (without error) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
