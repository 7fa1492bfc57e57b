import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { noopLogger } from '@kuvasz/core';
import {
  type PgoutputMessage,
  RelationCache,
  type RelationMessage,
  UNCHANGED_TOAST,
} from '@kuvasz/pgoutput';
import { afterEach, describe, expect, test } from 'vitest';
import { StreamError } from '../errors.js';
import type { TransactionPart } from '../types.js';
import { RelationMapping } from './part-builder.js';
import { SpillDir } from './spill-dir.js';
import { MemoryBudget } from './spill-log.js';
import { newStats } from './stats.js';
import { TransactionAssembler } from './transaction-assembler.js';

const bases: string[] = [];
afterEach(() => {
  for (const d of bases.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const relation: RelationMessage = {
  tag: 'relation',
  xid: undefined,
  relationOid: 16_384,
  schema: 'public',
  name: 't_2024',
  replicaIdentity: 'default',
  columns: [
    { flags: 1, isKey: true, name: 'id', typeOid: 23, typeMod: -1 },
    { flags: 0, isKey: false, name: 'v', typeOid: 25, typeMod: -1 },
  ],
};

function setup(maxChanges = 2) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'assembler-test-'));
  bases.push(base);
  const parts: TransactionPart[] = [];
  const confirmable: bigint[] = [];
  const committed: bigint[] = [];
  const asm = new TransactionAssembler({
    stats: newStats(),
    protoVersion: 1,
    relations: new RelationCache(),
    mapping: new RelationMapping((t) =>
      t.table === 't_2024' ? { schema: 'public', table: 't' } : undefined,
    ),
    limits: { maxChanges, maxBytes: 1 << 20 },
    heartbeatPrefix: 'hb',
    budget: new MemoryBudget(1 << 20),
    spillDir: new SpillDir(base),
    slot: 's',
    log: noopLogger,
    sink: {
      part: (p) => parts.push(p),
      replay: () => {
        throw new Error('no streaming in protocol 1');
      },
      committed: (l) => committed.push(l),
      confirmable: (l) => confirmable.push(l),
    },
  });
  const feed = (...msgs: PgoutputMessage[]) => {
    for (const m of msgs) asm.handle(m, new Uint8Array(10));
  };
  return { asm, parts, confirmable, committed, feed };
}

const begin = (xid: number, finalLsn: bigint): PgoutputMessage => ({
  tag: 'begin',
  finalLsn,
  commitTime: 1000n,
  xid,
});
const commit = (commitLsn: bigint, endLsn: bigint): PgoutputMessage => ({
  tag: 'commit',
  flags: 0,
  commitLsn,
  endLsn,
  commitTime: 1000n,
});
const insert = (id: string): PgoutputMessage => ({
  tag: 'insert',
  xid: undefined,
  relationOid: relation.relationOid,
  new: [id, UNCHANGED_TOAST],
});

describe('TransactionAssembler (transactions sent after their commit)', () => {
  test('splits a transaction into parts as it arrives; the final one carries the end LSN', () => {
    const { parts, committed, feed, asm } = setup(2);
    feed(
      begin(7, 0x100n),
      { tag: 'origin', originLsn: 5n, name: 'upstream' },
      relation,
      insert('1'),
      insert('2'),
    );
    expect(parts).toHaveLength(1);
    expect(asm.busy).toBe(true);
    feed(insert('3'), {
      tag: 'message',
      xid: undefined,
      transactional: true,
      lsn: 1n,
      prefix: 'app',
      content: new Uint8Array([1]),
    });
    feed({
      tag: 'message',
      xid: undefined,
      transactional: true,
      lsn: 2n,
      prefix: 'hb',
      content: new Uint8Array(),
    });
    feed(commit(0x100n, 0x130n));
    expect(asm.busy).toBe(false);
    expect(committed).toEqual([0x130n]);
    expect(parts.map((p) => [p.firstChangeIndex, p.changes.length, p.final, p.endLsn])).toEqual([
      [0, 2, false, 0x100n],
      [2, 1, true, 0x130n],
    ]);
    expect(
      parts.every((p) => p.xid === 7 && p.commitLsn === 0x100n && p.origin === 'upstream'),
    ).toBe(true);
    expect(parts[1]?.messages.map((m) => m.prefix)).toEqual(['app']);
    const c = parts[0]?.changes[0];
    expect(c?.kind === 'insert' && c.relation.name).toBe('t');
    expect(c?.kind === 'insert' && c.new[1]).toBe(UNCHANGED_TOAST);
    // One mapped object per relation version.
    expect(c?.kind === 'insert' && c.relation).toBe(
      parts[0]?.changes[1]?.kind === 'insert' ? parts[0].changes[1].relation : undefined,
    );
  });

  test('an empty transaction and non-transactional messages are positions to confirm, not parts', () => {
    const { parts, confirmable, feed } = setup();
    feed(begin(8, 0x200n), commit(0x200n, 0x228n));
    feed({
      tag: 'message',
      xid: undefined,
      transactional: false,
      lsn: 0x300n,
      prefix: 'hb',
      content: new Uint8Array(),
    });
    feed({
      tag: 'message',
      xid: undefined,
      transactional: false,
      lsn: 0x310n,
      prefix: 'other',
      content: new Uint8Array(),
    });
    expect(parts).toEqual([]);
    expect(confirmable).toEqual([0x228n, 0x300n, 0x310n]);
  });

  test('protocol violations are typed errors', () => {
    const { feed } = setup();
    expect(() => feed(insert('1'))).toThrow(StreamError);
    const s2 = setup();
    s2.feed(begin(1, 0x10n));
    expect(() => s2.feed(begin(2, 0x20n))).toThrow(/inside another transaction/);
    const s3 = setup();
    s3.feed(begin(1, 0x10n));
    expect(() => s3.feed(insert('1'))).toThrow(/Relation message was never received/);
    const s4 = setup();
    s4.feed(begin(1, 0x10n));
    expect(() => s4.feed(commit(0x11n, 0x20n))).toThrow(/differs from its Begin/);
  });
});
