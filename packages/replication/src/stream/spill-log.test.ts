import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { BLOCK_BYTES, MemoryBudget, SpillLog } from './spill-log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function newLog(limit: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spill-log-test-'));
  dirs.push(dir);
  let n = 0;
  const budget = new MemoryBudget(limit);
  const log = new SpillLog(budget, () => path.join(dir, `f${n++}.log`));
  return { log, budget, dir };
}

function payload(i: number, size = 50): Buffer {
  const b = Buffer.alloc(size, i % 251);
  b.writeUInt32BE(i, 0);
  return b;
}

async function readAll(log: SpillLog): Promise<{ i: number; rels: number[]; size: number }[]> {
  const out: { i: number; rels: number[]; size: number }[] = [];
  for await (const r of log.records()) {
    out.push({ i: r.payload.readUInt32BE(0), rels: r.relIdxs, size: r.payload.length });
  }
  return out;
}

describe('SpillLog', () => {
  test('keeps records in memory under the budget, in order', async () => {
    const { log, budget, dir } = newLog(64 * BLOCK_BYTES);
    for (let i = 0; i < 1000; i++) log.append([i % 3, 7], payload(i));
    expect(log.spilled).toBe(false);
    expect(budget.used).toBe(BLOCK_BYTES);
    const all = await readAll(log);
    expect(all.map((r) => r.i)).toEqual([...Array(1000).keys()]);
    expect(all[4]?.rels).toEqual([1, 7]);
    expect(fs.readdirSync(dir)).toEqual([]);
    log.dispose();
    expect(budget.used).toBe(0);
  });

  test('past the budget it spills to a file, and replays file then memory', async () => {
    const { log, budget, dir } = newLog(BLOCK_BYTES);
    const n = 60_000; // ~3.6 MB of records
    for (let i = 0; i < n; i++) log.append([i % 5], payload(i));
    expect(log.spilled).toBe(true);
    expect(budget.used).toBeLessThanOrEqual(4 * BLOCK_BYTES);
    expect(fs.readdirSync(dir)).toHaveLength(1);
    const all = await readAll(log);
    expect(all).toHaveLength(n);
    expect(all.every((r, i) => r.i === i && r.rels[0] === i % 5)).toBe(true);
    log.dispose();
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(budget.used).toBe(0);
  });

  test('records larger than a block, across the file and memory', async () => {
    const { log } = newLog(BLOCK_BYTES);
    log.append([], payload(1, 10));
    log.append([1], payload(2, 3 * BLOCK_BYTES));
    log.append([], payload(3, 10));
    log.spill();
    log.append([2], payload(4, 2 * BLOCK_BYTES + 5));
    const all = await readAll(log);
    expect(all.map((r) => [r.i, r.size])).toEqual([
      [1, 10],
      [2, 3 * BLOCK_BYTES],
      [3, 10],
      [4, 2 * BLOCK_BYTES + 5],
    ]);
    log.dispose();
  });

  test('truncates back to an earlier size, in memory and in the file', async () => {
    const { log } = newLog(64 * BLOCK_BYTES);
    for (let i = 0; i < 10; i++) log.append([], payload(i));
    const mark = log.size;
    for (let i = 10; i < 20; i++) log.append([], payload(i));
    log.truncate(mark);
    log.append([], payload(99));
    expect((await readAll(log)).map((r) => r.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 99]);

    const { log: spilled } = newLog(BLOCK_BYTES);
    for (let i = 0; i < 30_000; i++) spilled.append([], payload(i));
    const mid = spilled.size;
    for (let i = 30_000; i < 60_000; i++) spilled.append([], payload(i));
    spilled.spill();
    spilled.truncate(mid);
    spilled.append([], payload(123_456));
    const rest = await readAll(spilled);
    expect(rest).toHaveLength(30_001);
    expect(rest[29_999]?.i).toBe(29_999);
    expect(rest[30_000]?.i).toBe(123_456);
    log.dispose();
    spilled.dispose();
  });

  test('the largest log spills first', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spill-log-test-'));
    dirs.push(dir);
    const budget = new MemoryBudget(3 * BLOCK_BYTES);
    let n = 0;
    const small = new SpillLog(budget, () => path.join(dir, `s${n++}`));
    const big = new SpillLog(budget, () => path.join(dir, `b${n++}`));
    small.append([], payload(1, 100));
    for (let i = 0; i < 3; i++) big.append([], payload(i, BLOCK_BYTES - 100));
    expect(big.spilled).toBe(true);
    expect(small.spilled).toBe(false);
    small.dispose();
    big.dispose();
  });

  test('blocks are recycled through a pool bounded by the budget', () => {
    const budget = new MemoryBudget(2 * BLOCK_BYTES);
    const a = budget.allocate(BLOCK_BYTES);
    const b = budget.allocate(BLOCK_BYTES);
    const big = budget.allocate(3 * BLOCK_BYTES);
    expect(budget.used).toBe(5 * BLOCK_BYTES);
    budget.release(big); // not a standard block: dropped
    budget.release(a);
    budget.release(b);
    expect(budget.used).toBe(0);
    const c = budget.allocate(BLOCK_BYTES);
    const d = budget.allocate(BLOCK_BYTES);
    const e = budget.allocate(BLOCK_BYTES);
    expect(c === a || c === b).toBe(true);
    expect(d === a || d === b).toBe(true);
    expect(c).not.toBe(d);
    expect(e === a || e === b).toBe(false);
    expect(budget.used).toBe(3 * BLOCK_BYTES);
  });
});
