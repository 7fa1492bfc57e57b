import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RelationCache, type RelationMessage } from '@kuvasz/pgoutput';
import { afterEach, describe, expect, test } from 'vitest';
import { SpillDir } from './spill-dir.js';
import { MemoryBudget } from './spill-log.js';
import { StreamedTransaction } from './streamed-transactions.js';

const bases: string[] = [];
afterEach(() => {
  for (const d of bases.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function rel(oid: number, name: string, xid?: number): RelationMessage {
  return {
    tag: 'relation',
    xid,
    relationOid: oid,
    schema: 'public',
    name,
    replicaIdentity: 'default',
    columns: [],
  };
}

function newTx(xid = 100, budgetBytes = 1 << 30) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'streamed-tx-test-'));
  bases.push(base);
  return new StreamedTransaction(xid, new MemoryBudget(budgetBytes), new SpillDir(base));
}

async function ids(tx: StreamedTransaction): Promise<number[]> {
  const out: number[] = [];
  for await (const r of tx.log.records()) out.push(r.payload[0] as number);
  return out;
}

describe('StreamedTransaction', () => {
  test('an aborted subtransaction drops its changes and its nested ones, nothing else', async () => {
    const tx = newTx();
    const r = rel(1, 't');
    tx.appendChange(100, [r], Buffer.from([1]));
    tx.appendChange(101, [r], Buffer.from([2])); // s1, released
    tx.appendChange(102, [r], Buffer.from([3])); // s2
    tx.appendMessage(103, Buffer.from([4])); // s3 inside s2
    tx.appendChange(102, [r], Buffer.from([5]));
    expect(tx.abortSubxact(102)).toBe(true);
    expect(tx.changes).toBe(2);
    expect(tx.messages).toBe(0);
    tx.appendChange(100, [r], Buffer.from([6]));
    tx.appendChange(104, [r], Buffer.from([7]));
    expect(await ids(tx)).toEqual([1, 2, 6, 7]);
    // s3 went with s2: its abort finds nothing more to cut.
    expect(tx.abortSubxact(103)).toBe(false);
    expect(tx.abortSubxact(999)).toBe(false);
    tx.dispose();
  });

  test('relation versions stay private until commit and roll back with a subtransaction', () => {
    const tx = newTx();
    const global = new RelationCache();
    const v1 = rel(1, 'v1');
    global.set(v1);
    const v2 = rel(1, 'v2', 100);
    tx.setRelation(v2);
    expect(tx.resolve(1, global)).toBe(v2);
    expect(global.get(1)).toBe(v1);
    const v3 = rel(1, 'v3', 105);
    tx.setRelation(v3);
    tx.appendChange(105, [v3], Buffer.from([1]));
    expect(tx.resolve(1, global)).toBe(v3);
    tx.abortSubxact(105);
    expect(tx.resolve(1, global)).toBe(v2);
    tx.publishRelations(global);
    expect(global.get(1)).toBe(v2);
    tx.dispose();
  });

  test('records refer to relation versions by index', async () => {
    const tx = newTx();
    const a = rel(1, 'a');
    const b = rel(2, 'b');
    tx.appendChange(100, [a], Buffer.from([1]));
    tx.appendChange(100, [b, a], Buffer.from([2]));
    const recs: number[][] = [];
    for await (const r of tx.log.records()) recs.push(r.relIdxs);
    expect(recs).toEqual([[0], [1, 0]]);
    expect(tx.relations).toEqual([a, b]);
    tx.dispose();
  });
});
