import { UNCHANGED } from '@kuvasz/apply';
import { displayName } from '@kuvasz/core';
import { type RelationMessage, UNCHANGED_TOAST } from '@kuvasz/pgoutput';
import type { TransactionPart } from '@kuvasz/replication';
import { describe, expect, test } from 'vitest';
import { parseQualifiedName } from '../src/config/names.js';
import { LagTracker } from '../src/runtime/lag-tracker.js';
import { toSourceTransaction } from '../src/runtime/to-apply.js';
import { formatBytes, renderBar } from '../src/ui/progress.js';

describe('qualified names in the config', () => {
  test.each([
    ['orders', { schema: 'public', table: 'orders' }],
    ['billing.invoices', { schema: 'billing', table: 'invoices' }],
    ['"My.Table"', { schema: 'public', table: 'My.Table' }],
    ['Sales."Q1 ""x"""', { schema: 'Sales', table: 'Q1 "x"' }],
  ])('%s', (text, expected) => {
    expect(parseQualifiedName(text, 'public')).toEqual(expected);
  });
  test.each(['a.b.c', '"unterminated', 'a..b', '.b', 'a"b'])('%s is refused', (text) => {
    expect(parseQualifiedName(text, 'public')).toBeUndefined();
  });
  test.each([
    { schema: 'public', table: 'My.Table' },
    { schema: 'Sales', table: 'Q1 "x"' },
    { schema: 'app', table: 'user' },
    { schema: 'billing', table: 'invoices' },
  ])('names printed in messages read back as the same table: %j', (ref) => {
    expect(parseQualifiedName(displayName(ref), 'other')).toEqual(ref);
  });
});

test('pgoutput and apply share the unchanged-TOAST symbol, so tuples pass through as they are', () => {
  expect(UNCHANGED).toBe(UNCHANGED_TOAST);
  const rel: RelationMessage = {
    tag: 'relation',
    xid: undefined,
    relationOid: 16384,
    schema: 'public',
    name: 'docs',
    replicaIdentity: 'default',
    columns: [
      { flags: 1, isKey: true, name: 'id', typeOid: 23, typeMod: -1 },
      { flags: 0, isKey: false, name: 'body', typeOid: 25, typeMod: -1 },
    ],
  };
  const part: TransactionPart = {
    xid: 740,
    commitLsn: 0x1_0000_0010n,
    endLsn: 0x1_0000_0040n,
    commitTime: 0n,
    origin: undefined,
    firstChangeIndex: 5000,
    final: false,
    changes: [
      {
        kind: 'update',
        relation: rel,
        new: ['1', UNCHANGED_TOAST],
        key: undefined,
        old: undefined,
      },
      { kind: 'truncate', relations: [rel], cascade: false, restartIdentity: true },
    ],
    messages: [],
  };
  const tx = toSourceTransaction({ database: 'd', sid: 's' }, part);
  expect(tx).toMatchObject({
    commitLsn: 0x1_0000_0010n,
    endLsn: 0x1_0000_0040n,
    firstChangeIndex: 5000,
    final: false,
    commitTime: '2000-01-01T00:00:00.000000Z',
  });
  expect(tx.changes[0]).toEqual({
    op: 'update',
    relation: {
      schema: 'public',
      table: 'docs',
      replicaIdentity: 'default',
      columns: [
        { name: 'id', typeOid: 23, typeModifier: -1, isKey: true },
        { name: 'body', typeOid: 25, typeModifier: -1, isKey: false },
      ],
    },
    new: ['1', UNCHANGED],
    key: undefined,
    old: undefined,
  });
  expect(tx.changes[1]).toMatchObject({ op: 'truncate', restartIdentity: true });
  // The relation is converted once and shared.
  const again = toSourceTransaction({ database: 'd', sid: 's' }, part);
  expect((again.changes[0] as { relation: unknown }).relation).toBe(
    (tx.changes[0] as { relation: unknown }).relation,
  );
});

test('binary mode: decoded bytes become text through the relation decoders; a relation without them stops the part', () => {
  const rel: RelationMessage = {
    tag: 'relation',
    xid: undefined,
    relationOid: 16385,
    schema: 'public',
    name: 'pts',
    replicaIdentity: 'full',
    columns: [
      { flags: 1, isKey: true, name: 'id', typeOid: 23, typeMod: -1 },
      { flags: 0, isKey: false, name: 'at', typeOid: 600, typeMod: -1 },
    ],
  };
  const part = (): TransactionPart => ({
    xid: 1,
    commitLsn: 16n,
    endLsn: 32n,
    commitTime: 0n,
    origin: undefined,
    firstChangeIndex: 0,
    final: true,
    changes: [
      {
        kind: 'update',
        relation: rel,
        new: [new Uint8Array([0, 0, 0, 9]), null],
        key: undefined,
        old: [new Uint8Array([0, 0, 0, 8]), UNCHANGED_TOAST],
      },
    ],
    messages: [],
  });
  const int4 = (b: Uint8Array, start: number) => String(Buffer.from(b).readInt32BE(start));
  const tx = toSourceTransaction({ database: 'd', sid: 's' }, part(), {
    decoders: () => [int4, int4],
  });
  expect(tx.changes[0]).toMatchObject({ new: ['9', null], old: ['8', UNCHANGED] });
  expect(() =>
    toSourceTransaction({ database: 'd', sid: 's' }, part(), { decoders: () => undefined }),
  ).toThrow(/public\.pts .*no binary-to-text decoder.*restarts in text mode/);
});

test('lag is the age of the oldest transaction not yet durable', () => {
  const lag = new LagTracker();
  const pgNowUs = (ms: number) => BigInt(ms - 946_684_800_000) * 1000n;
  const now = Date.now();
  lag.pushed(10n, pgNowUs(now - 3000));
  lag.pushed(20n, pgNowUs(now - 1000));
  expect(lag.seconds(now)).toBeCloseTo(3, 1);
  expect(lag.durable(15n)).toBe(1);
  expect(lag.seconds(now)).toBeCloseTo(1, 1);
  expect(lag.durable(20n)).toBe(1);
  expect(lag.seconds(now)).toBe(0);
  for (let i = 0; i < 5000; i++) lag.pushed(BigInt(100 + i), pgNowUs(now));
  expect(lag.durable(100n + 4000n)).toBe(4001);
  expect(lag.durable(100n + 4999n)).toBe(999);
});

test('progress bars', () => {
  expect(formatBytes(1_234_567)).toBe('1.2 MB');
  const line = renderBar(
    {
      label: 't1/public.accounts',
      rows: 1_500_000,
      bytes: 150_000_000,
      chunksDone: 5,
      chunksTotal: 10,
      bytesPerSecond: 35_000_000,
      done: false,
    },
    10,
  );
  expect(line).toMatch(
    /^t1\/public\.accounts +\[#####-----\] {2}50% {2}1\.5M rows {2}150 MB {2}35\.0 MB\/s {2}chunks 5\/10$/,
  );
  expect(
    renderBar(
      {
        label: 'x',
        rows: 3,
        bytes: 30,
        chunksDone: 1,
        chunksTotal: 1,
        bytesPerSecond: 0,
        done: true,
      },
      4,
    ),
  ).toMatch(/\[####\] 100% {2}3 rows {2}30 B {2}done$/);
});
