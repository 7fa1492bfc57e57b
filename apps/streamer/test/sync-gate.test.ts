import { describe, expect, test } from 'vitest';
import { SyncGate } from '../src/runtime/sync-gate.js';

describe('SyncGate', () => {
  test('at most `limit` turns at once; waiters get theirs in order, told once that they wait', async () => {
    const gate = new SyncGate(2);
    const signal = new AbortController().signal;
    const waited: string[] = [];
    const a = await gate.acquire(signal, () => waited.push('a'));
    const b = await gate.acquire(signal, () => waited.push('b'));
    const order: string[] = [];
    const c = gate
      .acquire(signal, () => waited.push('c'))
      .then((end) => {
        order.push('c');
        return end;
      });
    const d = gate
      .acquire(signal, () => waited.push('d'))
      .then((end) => {
        order.push('d');
        return end;
      });
    await Promise.resolve();
    expect(waited).toEqual(['c', 'd']);
    expect([gate.copying, gate.waiting]).toEqual([2, 2]);
    a();
    a(); // a second release of one turn changes nothing
    const endC = await c;
    expect(order).toEqual(['c']);
    expect([gate.copying, gate.waiting]).toEqual([2, 1]);
    b();
    (await d)();
    endC();
    expect([gate.copying, gate.waiting]).toEqual([0, 0]);
  });

  test('a waiter stopped while it waits leaves the queue and takes no turn', async () => {
    const gate = new SyncGate(1);
    const first = await gate.acquire(new AbortController().signal);
    const stop = new AbortController();
    const waiting = gate.acquire(stop.signal);
    await Promise.resolve();
    expect(gate.waiting).toBe(1);
    stop.abort(new Error('stopping'));
    await expect(waiting).rejects.toThrow('stopping');
    expect(gate.waiting).toBe(0);
    first();
    expect(gate.copying).toBe(0);
    await expect(gate.acquire(stop.signal)).rejects.toThrow('stopping');
  });
});
