import { afterEach, describe, expect, test, vi } from 'vitest';
import { Backoff, backoffMs, sleep } from './backoff.js';

afterEach(() => {
  vi.restoreAllMocks();
});

function withRandom<T>(r: number, fn: () => T): T {
  vi.spyOn(Math, 'random').mockReturnValue(r);
  try {
    return fn();
  } finally {
    vi.restoreAllMocks();
  }
}

describe('backoffMs', () => {
  const options = { initialMs: 100, maxMs: 5000 };

  test.each([
    [0, 50, 100],
    [1, 100, 200],
    [3, 400, 800],
    [5, 1600, 3200],
    [6, 2500, 5000],
    [40, 2500, 5000],
    [5000, 2500, 5000],
  ])('attempt %i waits between %i and %i ms', (attempt, low, high) => {
    expect(withRandom(0, () => backoffMs(attempt, options))).toBe(low);
    expect(withRandom(0.999_999_9, () => backoffMs(attempt, options))).toBe(high);
    for (let i = 0; i < 200; i++) {
      const ms = backoffMs(attempt, options);
      expect(ms).toBeGreaterThanOrEqual(low);
      expect(ms).toBeLessThanOrEqual(high);
    }
  });

  test('a negative attempt counts as the first', () => {
    expect(withRandom(0, () => backoffMs(-3, options))).toBe(50);
  });
});

describe('Backoff', () => {
  test('grows, is capped, and starts over after reset', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000 });
    const waits = withRandom(0.999_999_9, () => Array.from({ length: 8 }, () => b.next()));
    expect(waits).toEqual([100, 200, 400, 800, 1000, 1000, 1000, 1000]);
    b.reset();
    expect(withRandom(0, () => b.next())).toBe(50);
  });
});

describe('sleep', () => {
  test('resolves after the time', async () => {
    vi.useFakeTimers();
    try {
      let done = false;
      const p = sleep(1000).then(() => {
        done = true;
      });
      await vi.advanceTimersByTimeAsync(999);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await p;
      expect(done).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  test('resolves early when the signal aborts, at once when it already has', async () => {
    const ac = new AbortController();
    const started = Date.now();
    const p = sleep(60_000, ac.signal);
    ac.abort();
    await p;
    await sleep(60_000, ac.signal);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
