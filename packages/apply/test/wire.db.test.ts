/**
 * Inserts that arrive as wire tuples (bytes) land exactly as the same
 * inserts given as values: by COPY (the bytes go into the payload as they
 * are), by INSERT (small batches), through the conflict path, into history
 * and through row rules (decoded there); a malformed wire tuple stops its
 * source with a typed error.
 */
import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import {
  ApplyError,
  type ChangeTuple,
  type RowChange,
  type RowRules,
  type SourceRelation,
  WIRE_NULL,
  WIRE_UNCHANGED,
  type WireTuple,
} from '../src/index.js';
import { harness, ins, mapping, pushAll, rel, S1, txs } from './helpers.js';

const DDL = `CREATE TABLE c (sid text NOT NULL, id int NOT NULL, v text, PRIMARY KEY (sid, id));
  CREATE TABLE k (id int PRIMARY KEY, v text);
  CREATE TABLE h (sid text NOT NULL, id int NOT NULL, v text,
    kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL DEFAULT false);
  CREATE UNIQUE INDEX h_open ON h (sid, id) WHERE kvsz_end = '9999-01-01 00:00:00+00';`;

const encoder = new TextEncoder();

/** Values as one wire tuple, at an offset inside a shared buffer (as an arena holds them). */
function wire(values: (string | null)[]): WireTuple {
  const parts = values.map((v) => (v === null ? null : encoder.encode(v)));
  const bytes = new Uint8Array(7 + parts.reduce((n, p) => n + (p?.length ?? 0), 0));
  const offsets = new Int32Array(3 + 2 * values.length);
  let pos = 7;
  parts.forEach((p, i) => {
    offsets[3 + 2 * i] = p === null ? WIRE_NULL : pos;
    offsets[3 + 2 * i + 1] = p?.length ?? 0;
    if (p) {
      bytes.set(p, pos);
      pos += p.length;
    }
  });
  return { bytes, offsets, at: 3, count: values.length };
}

const VALUES: (string | null)[][] = [
  ['1', 'plain'],
  ['2', null],
  ['3', 'tab\there, nl\nthere, cr\rthere, backslash \\ \\N'],
  ['4', '\uFEFFbom, ünïcödé 🐘'],
  ['5', ''],
];

const wireIns = (r: SourceRelation, v: (string | null)[]): RowChange => ({
  op: 'insert',
  relation: r,
  wire: wire(v),
});

describe.each(testedVersions())('wire inserts on PG %i', (version) => {
  const pgc = useCluster({ version });

  test.each([
    ['COPY', 1],
    ['INSERT', 1000],
  ])(
    'land as the same values would, by %s, into (sid, id), id and history targets',
    async (_path, copyMinRows) => {
      const h = await harness(pgc.get(), DDL);
      try {
        const e = await h.engine({
          tables: [mapping('c', 'clone'), mapping('k', 'clone'), mapping('h', 'history')],
          copyMinRows,
        });
        const c = rel('c', [['id', true], 'v']);
        const k = rel('k', [['id', true], 'v']);
        const hr = rel('h', [['id', true], 'v']);
        await pushAll(
          e,
          txs(S1, 1000n, [
            [...VALUES.map((v) => wireIns(c, v)), ...VALUES.map((v) => wireIns(k, v))],
            VALUES.map((v) => wireIns(hr, v)),
          ]),
        );
        await e.flush();
        expect(e.sourceStatus(S1).state).toBe('running');
        const want = VALUES.map(([id, v]) => ({ id: Number(id), v }));
        expect(await h.rows('SELECT id, v FROM c ORDER BY id')).toEqual(want);
        expect(await h.rows('SELECT id, v FROM k ORDER BY id')).toEqual(want);
        expect(
          await h.rows(
            "SELECT id, v FROM h WHERE kvsz_end = '9999-01-01 00:00:00+00' AND NOT kvsz_deleted ORDER BY id",
          ),
        ).toEqual(want);
        expect(e.stats().filter((s) => s.result !== 'ok')).toEqual([]);
      } finally {
        await h.close();
      }
    },
  );

  test('a key already in the target goes through the conflict path, decoded there, and is counted', async () => {
    const h = await harness(pgc.get(), DDL);
    try {
      await h.rows("INSERT INTO k VALUES (2, 'already')");
      const e = await h.engine({ tables: [mapping('k', 'clone')], copyMinRows: 1 });
      const k = rel('k', [['id', true], 'v']);
      await pushAll(e, txs(S1, 1000n, [VALUES.map((v) => wireIns(k, v))]));
      await e.flush();
      expect(e.sourceStatus(S1).state).toBe('running');
      expect(await h.rows('SELECT id, v FROM k ORDER BY id')).toEqual([
        { id: 1, v: 'plain' },
        { id: 2, v: 'already' },
        ...VALUES.slice(2).map(([id, v]) => ({ id: Number(id), v })),
      ]);
      expect(e.stats().find((s) => s.result === 'conflict')?.count).toBe(1);
    } finally {
      await h.close();
    }
  });

  test('row rules read the decoded values of a wire insert', async () => {
    const h = await harness(pgc.get(), DDL);
    try {
      const keepOdd: RowRules = {
        bind: () => ({
          filter: { reads: [0], test: (row: ChangeTuple) => Number(row[0]) % 2 === 1 },
          computed: [],
        }),
      };
      const e = await h.engine({ tables: [{ ...mapping('k', 'clone'), rows: keepOdd }] });
      const k = rel('k', [['id', true], 'v']);
      await pushAll(e, txs(S1, 1000n, [VALUES.map((v) => wireIns(k, v))]));
      await e.flush();
      expect(await h.rows('SELECT id FROM k ORDER BY id')).toEqual([
        { id: 1 },
        { id: 3 },
        { id: 5 },
      ]);
    } finally {
      await h.close();
    }
  });

  test.each([
    ['staged by COPY', 1],
    ['inline', 1000],
  ])(
    'wire updates and deletes land as values would, %s: (sid, id), id and history targets, an unchanged TOAST value kept, a missing row inserted',
    async (_path, stageMinRows) => {
      const h = await harness(pgc.get(), DDL);
      try {
        const e = await h.engine({
          tables: [mapping('c', 'clone'), mapping('k', 'clone'), mapping('h', 'history')],
          stageMinRows,
        });
        const rels = [
          rel('c', [['id', true], 'v']),
          rel('k', [['id', true], 'v']),
          rel('h', [['id', true], 'v']),
        ];
        // Column 2 unchanged (TOAST): the target keeps what it has.
        const keep = (): WireTuple => {
          const w = wire(['1', 'ignored']);
          (w.offsets as Int32Array)[w.at + 2] = WIRE_UNCHANGED;
          return w;
        };
        const inserts = rels.flatMap((r) => VALUES.map((v) => wireIns(r, v)));
        const changes = (r: SourceRelation): RowChange[] => [
          { op: 'update', relation: r, wire: keep() },
          { op: 'update', relation: r, wire: wire(['2', 'two']) },
          { op: 'update', relation: r, wire: wire(['3', 'tab\tand \\ ünï']) },
          { op: 'update', relation: r, wire: wire(['9', 'was missing']) },
          { op: 'delete', relation: r, wire: wire(['4', null]) },
        ];
        await pushAll(e, txs(S1, 1000n, [inserts, rels.flatMap(changes)]));
        await e.flush();
        expect(e.sourceStatus(S1).state).toBe('running');
        const want = [
          { id: 1, v: 'plain' },
          { id: 2, v: 'two' },
          { id: 3, v: 'tab\tand \\ ünï' },
          { id: 5, v: '' },
        ];
        expect(await h.rows('SELECT id, v FROM c ORDER BY id')).toEqual([
          ...want,
          { id: 9, v: 'was missing' },
        ]);
        expect(await h.rows('SELECT id, v FROM k ORDER BY id')).toEqual([
          ...want,
          { id: 9, v: 'was missing' },
        ]);
        expect(
          await h.rows(
            "SELECT id, v FROM h WHERE kvsz_end = '9999-01-01 00:00:00+00' AND NOT kvsz_deleted ORDER BY id",
          ),
        ).toEqual([...want, { id: 9, v: 'was missing' }]);
        expect(await h.rows('SELECT id FROM h WHERE kvsz_deleted')).toEqual([{ id: 4 }]);
        const missed = e.stats().filter((s) => s.result === 'missing');
        expect(missed.map((s) => [s.table, s.operation, s.count]).sort()).toEqual(
          [
            ['public.c', 'update', 1],
            ['public.h', 'update', 1],
            ['public.k', 'update', 1],
          ].sort(),
        );
      } finally {
        await h.close();
      }
    },
  );

  const short = (): WireTuple => ({ ...wire(['9', 'x']), count: 1 });
  const outside = (): WireTuple => {
    const w = wire(['8', 'x']);
    (w.offsets as Int32Array)[w.at + 2] = 1000;
    return w;
  };
  test.each([
    ['one column short', short, /wire has 1 columns, the relation 2/],
    ['a value outside its bytes', outside, /column 2 lies outside wire\.bytes/],
  ] as const)(
    'a wire tuple with %s stops the source with invalid_input; nothing of its transaction is applied',
    async (_what, bad, message) => {
      const h = await harness(pgc.get(), DDL);
      try {
        const e = await h.engine({ tables: [mapping('k', 'clone')], copyMinRows: 1 });
        const k = rel('k', [['id', true], 'v']);
        const tx = txs(S1, 1000n, [
          [ins(k, ['7', 'ok']), { op: 'insert', relation: k, wire: bad() }],
        ]);
        await pushAll(e, tx).catch(() => {});
        await e.flush().catch(() => {});
        expect(e.sourceStatus(S1).state).toBe('failed');
        expect(e.sourceStatus(S1).error).toBeInstanceOf(ApplyError);
        expect(e.sourceStatus(S1).error).toMatchObject({ code: 'invalid_input' });
        expect(e.sourceStatus(S1).error?.message).toMatch(message);
        expect(await h.rows('SELECT id FROM k')).toEqual([]);
      } finally {
        await h.close();
      }
    },
  );
});
