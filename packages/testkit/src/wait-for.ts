import { setTimeout as delay } from 'node:timers/promises';
import { TestkitError } from './errors.js';

export interface WaitForOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Pause between attempts (default 50 ms). */
  intervalMs?: number;
  /** Named in the timeout error, so a failing test says what it waited for. */
  message?: string;
}

/**
 * Polls `predicate` until it returns a truthy value (which is returned) or the
 * timeout passes. A predicate that throws counts as "not yet"; the last error
 * is attached to the timeout error so the cause is not lost.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitForOptions,
): Promise<NonNullable<T>> {
  const interval = options.intervalMs ?? 50;
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  let lastValue: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
      lastValue = value;
      lastError = undefined;
    } catch (err: unknown) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await delay(interval);
  }
  const what = options.message ?? 'condition';
  const detail =
    lastError instanceof Error
      ? `; last error: ${lastError.message}`
      : `; last value: ${JSON.stringify(lastValue)}`;
  throw new TestkitError(
    'timeout',
    `timed out after ${options.timeoutMs} ms waiting for ${what}${detail}`,
    {
      cause: lastError,
    },
  );
}
