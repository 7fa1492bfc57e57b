/**
 * Golden fixtures from real servers (see capture/scenarios.ts for the SQL),
 * decoded and checked field by field against values written from the SQL,
 * catalog OIDs read at capture time and the peek's own lsn / xid columns.
 */
import { describe, expect, test } from 'vitest';
import { pgTimestampToDate, UNCHANGED_TOAST } from '../src/index.js';
import {
  as,
  type DecodedChange,
  decodeFixture,
  fixturesOf,
  tags,
  transactions,
} from './support/decode-fixture.js';
import { loadFixtures } from './support/fixtures.js';

const byFile = <T extends { file: string }>(list: T[]) => list.map((f) => [f.file, f] as const);
const nulls = (n: number): null[] => new Array(n).fill(null);

describe.each(byFile(loadFixtures().filter((f) => f.protoVersion === 1)))(
  'transaction framing %s',
  (_file, fx) => {
    test('Begin and Commit agree with each other and with the peek columns', () => {
      const txs = transactions(decodeFixture(fx));
      expect(txs.length).toBeGreaterThan(0);
      let lastXid = 0;
      for (const tx of txs) {
        const first = tx[0]!;
        const last = tx[tx.length - 1]!;
        const begin = as(first.msg, 'begin');
        const commit = as(last.msg, 'commit');
        expect(begin.xid).toBe(first.peekXid);
        expect(begin.xid).toBeGreaterThan(lastXid);
        lastXid = begin.xid;
        expect(begin.finalLsn).toBe(commit.commitLsn);
        expect(commit.endLsn).toBe(last.peekLsn);
        expect(commit.endLsn > commit.commitLsn).toBe(true);
        expect(commit.commitTime).toBe(begin.commitTime);
        expect(commit.flags).toBe(0);
        for (const c of tx)
          if ('xid' in c.msg && c.msg.tag !== 'begin') expect(c.msg.xid).toBe(undefined);
      }
    });
  },
);

describe.each(byFile(fixturesOf('dml')))('dml %s', (_file, fx) => {
  const changes = decodeFixture(fx);
  const oid = fx.relations['public.items'];

  test('message sequence', () => {
    expect(tags(changes)).toEqual([
      ...['begin', 'relation', 'insert', 'commit'],
      ...['begin', 'insert', 'commit'],
      ...['begin', 'insert', 'commit'],
      ...['begin', 'insert', 'commit'],
      ...['begin', 'update', 'commit'],
      ...['begin', 'update', 'commit'],
      ...['begin', 'delete', 'commit'],
      ...['begin', 'insert', 'insert', 'commit'],
    ]);
  });

  test('Relation describes every column', () => {
    const rel = as(changes[1]?.msg, 'relation');
    expect(rel).toMatchObject({ relationOid: oid, schema: 'public', name: 'items' });
    expect(rel.replicaIdentity).toBe('default');
    expect(rel.xid).toBe(undefined);
    expect(rel.columns.map((c) => c.name)).toEqual([
      'id',
      'qty',
      'big',
      'name',
      'price',
      'ok',
      'at',
      'doc',
      'raw',
      'tags',
    ]);
    // int4, int2, int8, text, numeric, bool, timestamptz, jsonb, bytea, text[]
    expect(rel.columns.map((c) => c.typeOid)).toEqual([
      23, 21, 20, 25, 1700, 16, 1184, 3802, 17, 1009,
    ]);
    // numeric(12,2): ((12 << 16) | 2) + VARHDRSZ
    expect(rel.columns.map((c) => c.typeMod)).toEqual([
      -1,
      -1,
      -1,
      -1,
      (12 << 16) + 2 + 4,
      -1,
      -1,
      -1,
      -1,
      -1,
    ]);
    expect(rel.columns.map((c) => c.isKey)).toEqual([true, ...new Array(9).fill(false)]);
    expect(rel.columns.map((c) => c.flags)).toEqual([1, ...new Array(9).fill(0)]);
  });

  test('Insert text values, extremes, unicode, BOM, empty string and NULL', () => {
    const rows = changes.filter((c) => c.msg.tag === 'insert').map((c) => as(c.msg, 'insert'));
    for (const r of rows) expect(r.relationOid).toBe(oid);
    expect(rows[0]?.new).toEqual([
      '1',
      '32767',
      '9223372036854775807',
      'plain ascii',
      '12345.67',
      't',
      '2026-11-22 10:00:00.123456+00',
      '{"a": [1, 2.5, null], "b": "x"}',
      '\\x00ff10',
      '{a,"b c",NULL}',
    ]);
    expect(rows[1]?.new).toEqual([
      '2',
      '-32768',
      '-9223372036854775808',
      'h\u00e9llo \u20ac \u{1F600}',
      '-0.01',
      'f',
      'infinity',
      'null',
      '\\x',
      '{}',
    ]);
    expect(rows[2]?.new).toEqual([
      '3',
      null,
      null,
      '\uFEFFbom first',
      null,
      null,
      '-infinity',
      null,
      null,
      null,
    ]);
    expect(rows[3]?.new).toEqual(['4', null, null, '', ...nulls(6)]);
    expect(rows[4]?.new).toEqual(['5', ...nulls(9)]);
    expect(rows[5]?.new).toEqual(['6', ...nulls(9)]);
  });

  test('Update without and with a key change, Delete by key', () => {
    const [plain, keyChange] = changes
      .filter((c) => c.msg.tag === 'update')
      .map((c) => as(c.msg, 'update'));
    expect(plain).toMatchObject({ relationOid: oid, key: undefined, old: undefined });
    expect(plain?.new.slice(0, 4)).toEqual(['1', '1', '9223372036854775807', 'renamed']);
    expect(keyChange?.key).toEqual(['2', ...nulls(9)]);
    expect(keyChange?.old).toBe(undefined);
    expect(keyChange?.new[0]).toBe('10');
    expect(keyChange?.new[3]).toBe('h\u00e9llo \u20ac \u{1F600}');
    const del = as(changes.find((c) => c.msg.tag === 'delete')?.msg, 'delete');
    expect(del).toEqual({
      tag: 'delete',
      xid: undefined,
      relationOid: oid,
      key: ['3', ...nulls(9)],
      old: undefined,
    });
  });

  test('commit times are real wall-clock times', () => {
    const begin = as(changes[0]?.msg, 'begin');
    const t = pgTimestampToDate(begin.commitTime).getTime();
    expect(t).toBeGreaterThan(Date.UTC(2024, 0, 1));
    expect(t).toBeLessThan(Date.UTC(2100, 0, 1));
  });
});

describe.each(byFile(fixturesOf('replica-identity')))('replica identity %s', (_file, fx) => {
  const txs = transactions(decodeFixture(fx));
  const msgs = (i: number): DecodedChange['msg'][] => txs[i]!.slice(1, -1).map((c) => c.msg);

  test('default: key only on a key change', () => {
    const rel = as(msgs(0)[0], 'relation');
    expect(rel).toMatchObject({
      name: 'ri_default',
      replicaIdentity: 'default',
      relationOid: fx.relations['public.ri_default'],
    });
    expect(rel.columns.map((c) => c.isKey)).toEqual([true, false]);
    expect(as(msgs(0)[1], 'insert').new).toEqual(['1', 'a']);
    expect(as(msgs(1)[0], 'update')).toMatchObject({
      key: undefined,
      old: undefined,
      new: ['1', 'b'],
    });
    expect(as(msgs(2)[0], 'update')).toMatchObject({
      key: ['1', null],
      old: undefined,
      new: ['2', 'b'],
    });
    expect(as(msgs(3)[0], 'delete')).toMatchObject({ key: ['2', null], old: undefined });
  });

  test('index: the unique index columns are the key', () => {
    const rel = as(msgs(4)[0], 'relation');
    expect(rel).toMatchObject({ name: 'ri_index', replicaIdentity: 'index' });
    expect(rel.columns.map((c) => [c.name, c.isKey])).toEqual([
      ['id', false],
      ['code', true],
      ['v', false],
    ]);
    expect(as(msgs(5)[0], 'update')).toMatchObject({ key: undefined, new: ['1', 'k1', 'b'] });
    expect(as(msgs(6)[0], 'update')).toMatchObject({
      key: [null, 'k1', null],
      new: ['1', 'k2', 'b'],
    });
    expect(as(msgs(7)[0], 'delete')).toMatchObject({ key: [null, 'k2', null], old: undefined });
  });

  test('full: the whole old row', () => {
    const rel = as(msgs(8)[0], 'relation');
    expect(rel).toMatchObject({ name: 'ri_full', replicaIdentity: 'full' });
    expect(rel.columns.map((c) => c.isKey)).toEqual([true, true, true]);
    expect(
      msgs(8)
        .slice(1)
        .map((m) => as(m, 'insert').new),
    ).toEqual([
      ['1', 'a', '1.5'],
      ['2', null, null],
    ]);
    expect(as(msgs(9)[0], 'update')).toMatchObject({
      key: undefined,
      old: ['1', 'a', '1.5'],
      new: ['1', 'b', '1.5'],
    });
    expect(as(msgs(10)[0], 'delete')).toMatchObject({ key: undefined, old: ['2', null, null] });
  });

  test('nothing: no key column', () => {
    const rel = as(msgs(11)[0], 'relation');
    expect(rel).toMatchObject({ name: 'ri_nothing', replicaIdentity: 'nothing' });
    expect(rel.columns.map((c) => c.isKey)).toEqual([false, false]);
    expect(as(msgs(11)[1], 'insert').new).toEqual(['1', 'x']);
  });
});

describe.each(byFile(fixturesOf('truncate')))('truncate %s', (_file, fx) => {
  const txs = transactions(decodeFixture(fx));
  const r = fx.relations;

  test('TRUNCATE ... RESTART IDENTITY CASCADE lists every relation with both flags', () => {
    const t = as(txs[1]?.find((c) => c.msg.tag === 'truncate')?.msg, 'truncate');
    expect(t.cascade).toBe(true);
    expect(t.restartIdentity).toBe(true);
    expect([...t.relationOids].sort()).toEqual(
      [r['public.tr_parent'], r['public.tr_child'], r['public.tr_seq']].sort(),
    );
    // RESTART IDENTITY really restarted the sequence.
    const ins = as(txs[2]?.find((c) => c.msg.tag === 'insert')?.msg, 'insert');
    expect(ins.new).toEqual(['1', 'b']);
  });

  test('plain TRUNCATE has neither flag', () => {
    const t = as(txs[3]?.find((c) => c.msg.tag === 'truncate')?.msg, 'truncate');
    expect(t).toEqual({
      tag: 'truncate',
      xid: undefined,
      cascade: false,
      restartIdentity: false,
      relationOids: [r['public.tr_seq']],
    });
  });
});

describe.each(byFile(fixturesOf('messages')))('logical messages %s', (_file, fx) => {
  const changes = decodeFixture(fx);
  const text = (b: Uint8Array): string => new TextDecoder().decode(b);

  test('transactional and not, text and bytes, empty content', () => {
    expect(tags(changes)).toEqual([
      'message',
      ...['begin', 'relation', 'insert', 'message', 'commit'],
      'message',
      ...['begin', 'message', 'commit'],
    ]);
    const m = changes.filter((c) => c.msg.tag === 'message').map((c) => as(c.msg, 'message'));
    expect(m.map((x) => [x.prefix, x.transactional, x.xid])).toEqual([
      ['kuvasz/plain', false, undefined],
      ['kuvasz/tx', true, undefined],
      ['kuvasz/bytes', false, undefined],
      ['kuvasz/alone', true, undefined],
    ]);
    expect(text(m[0]!.content)).toBe('non-transactional');
    expect(text(m[1]!.content)).toBe('in a transaction \u2713');
    expect([...m[2]!.content]).toEqual([0x00, 0xff, 0x00]);
    expect(m[3]!.content).toEqual(new Uint8Array(0));
    // The LSN is the end of the message's WAL record: here the commit record follows it at once.
    const commit = as(changes[5]?.msg, 'commit');
    expect(m[1]!.lsn).toBe(commit.commitLsn);
    // The non-transactional one is sent at once, with its own LSN as the peek position.
    expect(m[0]!.lsn).toBe(changes[0]!.peekLsn);
  });
});

describe.each(byFile(fixturesOf('toast')))('unchanged TOAST %s', (_file, fx) => {
  const rows = decodeFixture(fx).filter((c) => ['insert', 'update', 'delete'].includes(c.msg.tag));
  const big = '0123456789'.repeat(300);

  test('an external value that did not change is UNCHANGED_TOAST, never NULL', () => {
    expect(as(rows[0]?.msg, 'insert').new).toEqual(['1', 'first', big]);
    const upd = as(rows[1]?.msg, 'update');
    expect(upd.new).toEqual(['1', 'second', UNCHANGED_TOAST]);
    expect(upd.new[2]).not.toBe(null);
    expect(as(rows[2]?.msg, 'update').new).toEqual(['1', 'third', 'x'.repeat(2500)]);
    expect(as(rows[3]?.msg, 'delete').key).toEqual(['1', null, null]);
  });

  test('with REPLICA IDENTITY FULL the old row carries the value, the new one does not', () => {
    expect(as(rows[4]?.msg, 'insert').new).toEqual(['1', 'first', big]);
    const upd = as(rows[5]?.msg, 'update');
    expect(upd.old).toEqual(['1', 'first', big]);
    expect(upd.new).toEqual(['1', 'second', UNCHANGED_TOAST]);
  });
});

describe.each(byFile(fixturesOf('origin')))('origin %s', (_file, fx) => {
  const changes = decodeFixture(fx);

  test('Origin follows Begin with the name and LSN set by the session', () => {
    expect(tags(changes)).toEqual([
      ...['begin', 'origin', 'relation', 'insert', 'commit'],
      ...['begin', 'insert', 'commit'],
    ]);
    expect(as(changes[1]?.msg, 'origin')).toEqual({
      tag: 'origin',
      originLsn: 0x12_3456789an,
      name: 'kuvasz_origin',
    });
    // pg_replication_origin_xact_setup's timestamp becomes the commit time.
    const us = BigInt(Date.UTC(2026, 10, 22, 10, 0, 0) - 946_684_800_000) * 1000n;
    expect(as(changes[0]?.msg, 'begin').commitTime).toBe(us);
    expect(as(changes[4]?.msg, 'commit').commitTime).toBe(us);
  });
});

describe.each(byFile(fixturesOf('types')))('custom types %s', (_file, fx) => {
  const changes = decodeFixture(fx);
  const t = fx.types;

  test('a Type message for each non-built-in column type, then the Relation', () => {
    expect(tags(changes)).toEqual([
      'begin',
      'type',
      'type',
      'type',
      'type',
      'relation',
      'insert',
      'commit',
    ]);
    const types = changes.slice(1, 5).map((c) => as(c.msg, 'type'));
    expect(types.map((x) => [x.schema, x.name, x.typeOid, x.xid])).toEqual([
      ['public', 'mood', t['public.mood'], undefined],
      ['public', 'pair', t['public.pair'], undefined],
      // A domain is described by its base type; pg_catalog is sent as ''.
      ['', 'int4', t['public.posint'], undefined],
      ['public', '_mood', t['public._mood'], undefined],
    ]);
    const rel = as(changes[5]?.msg, 'relation');
    expect(rel.columns.map((c) => c.typeOid)).toEqual([
      23,
      t['public.mood'],
      t['public.pair'],
      t['public.posint'],
      t['public._mood'],
    ]);
    expect(as(changes[6]?.msg, 'insert').new).toEqual(['1', 'happy', '(7,seven)', '5', '{sad,ok}']);
  });
});

describe.each(byFile(fixturesOf('binary')))('binary mode %s', (_file, fx) => {
  const changes = decodeFixture(fx);
  const hex = (v: unknown): string => {
    if (!(v instanceof Uint8Array)) throw new Error(`expected bytes, got ${String(v)}`);
    return Buffer.from(v).toString('hex');
  };

  test("values arrive in each type's binary send format", () => {
    expect(tags(changes)).toEqual([
      ...['begin', 'type', 'relation', 'insert', 'commit'],
      ...['begin', 'update', 'commit'],
      ...['begin', 'insert', 'commit'],
    ]);
    const row = as(changes[3]?.msg, 'insert').new;
    expect(row.slice(0, 10).map(hex)).toEqual([
      '00000001', // int4 1
      'fffffffffffffffe', // int8 -2
      '68c3a9', // text 'hé'
      '01', // bool true
      '3ff8000000000000', // float8 1.5
      '00000000000f4240', // timestamptz 2000-01-01 00:00:01: 1e6 us after the epoch
      // numeric 12345.678: 3 base-10000 digits, weight 1, positive, dscale 3: 1 2345 6780
      '0003000100000003000109291a7c',
      'deadbeef', // bytea
      '00112233445566778899aabbccddeeff', // uuid
      '6861707079', // enum 'happy'
    ]);
    expect(new TextDecoder().decode(row[10] as Uint8Array)).toBe('n'.repeat(3000));
    const upd = as(changes[6]?.msg, 'update').new;
    expect(hex(upd[2])).toBe('62');
    expect(upd[10]).toBe(UNCHANGED_TOAST);
    expect(as(changes[9]?.msg, 'insert').new).toEqual([new Uint8Array([0, 0, 0, 2]), ...nulls(10)]);
  });
});
