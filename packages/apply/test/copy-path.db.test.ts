import { createHash } from 'node:crypto';
import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { ApplyError } from '../src/index.js';
import { captureLogger, harness, ins, mapping, pushAll, rel, S1, S2, txs, upd } from './helpers.js';

/** Values that COPY's text format escapes, or that look like its markers. */
const NASTY = [
  'tab\there',
  'new\nline',
  'carriage\rreturn\r\n',
  'back\\slash',
  '\\N',
  '\\.',
  '\\',
  'ends with backslash\\',
  '',
  ' ',
  'NULL',
  'ünïcödé 🐘 日本語',
  '\t\n\\\r',
  'x'.repeat(70_000),
];

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

describe.each(testedVersions())('the COPY path on PG %i', (version) => {
  const pgc = useCluster({ version });

  // Small inserts go in an INSERT with literals (copyMinRows 1000 here), larger ones by COPY (1).
  test.each([
    ['COPY', 1],
    ['INSERT with inlined literals', 1000],
  ])(
    'tabs, newlines, backslashes, COPY markers, non-ASCII, empty strings and NULLs arrive byte-identical (%s)',
    async (_path, copyMinRows) => {
      const h = await harness(
        pgc.get(),
        `CREATE TABLE c (sid text NOT NULL, id int NOT NULL, v text, arr text[], j jsonb, PRIMARY KEY (sid, id));
       CREATE TABLE hh (sid text NOT NULL, id int NOT NULL, v text, arr text[], j jsonb,
         kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL DEFAULT false);
       CREATE INDEX hh_versions ON hh (sid, id, kvsz_end);`,
      );
      try {
        const e = await h.engine({
          tables: [mapping('c', 'clone'), mapping('hh', 'history')],
          copyMinRows,
        });
        const rc = rel('c', [['id', true], 'v', 'arr', 'j']);
        const rh = rel('hh', [['id', true], 'v', 'arr', 'j']);
        const arr = '{"a\\tb","c\\\\d","e\\"f",NULL,"ü"}';
        const json = '{"k": "tab\\there \\\\ \\n", "u": "\\u00fc"}';
        const values = [...NASTY, null];
        // Clone: plain inserts (COPY in a savepoint), and updates of missing rows (inserted by COPY too).
        // History: inserts, then updates that keep their key (new versions by COPY).
        await pushAll(
          e,
          txs(S1, 1000n, [
            values.map((v, i) => ins(rc, [String(i), v, arr, json])),
            values.map((v, i) => upd(rc, [String(100 + i), v, arr, json])),
            values.map((_v, i) => ins(rh, [String(i), 'first', null, null])),
            values.map((v, i) => upd(rh, [String(i), v, arr, json])),
          ]),
        );
        expect(e.stats().filter((s) => s.result !== 'ok' && s.result !== 'missing')).toEqual([]);
        const expected = values.map((v) => (v === null ? null : md5(v)));
        for (const [table, where, offset] of [
          ['c', 'id < 100', 0],
          ['c', 'id >= 100', 100],
          ['hh', `kvsz_end = '9999-01-01+00'`, 0],
        ] as const) {
          const rows = await h.rows<{ id: number; h: string | null; arr: string; j: string }>(
            `SELECT id, md5(v) AS h, arr::text AS arr, j::text AS j FROM ${table} WHERE ${where} ORDER BY id`,
          );
          expect(
            rows.map((r) => r.id - offset),
            table,
          ).toEqual(values.map((_, i) => i));
          expect(
            rows.map((r) => r.h),
            `${table} ${where}`,
          ).toEqual(expected);
          // Equal to what the server makes of the same text (array and json input normalise it).
          const [direct] = await h.rows<{ arr: string; j: string }>(
            'SELECT $1::text[]::text AS arr, $2::jsonb::text AS j',
            [arr, json],
          );
          expect(new Set(rows.map((r) => r.arr))).toEqual(new Set([direct!.arr]));
          expect(new Set(rows.map((r) => r.j))).toEqual(new Set([direct!.j]));
        }
      } finally {
        await h.close();
      }
    },
  );

  test('a COPY batch that meets an existing key falls back to the conflict-detecting insert: same rows, same logs, same counts', async () => {
    const h = await harness(
      pgc.get(),
      `CREATE TABLE c (sid text NOT NULL, id int NOT NULL, v text, PRIMARY KEY (sid, id));
       INSERT INTO c VALUES ('1', 3, 'existing'), ('1', 7, 'existing')`,
    );
    try {
      const log = captureLogger();
      const e = await h.engine({
        tables: [mapping('c', 'clone')],
        logger: log.logger,
        copyMinRows: 1,
      });
      const r = rel('c', [['id', true], 'v']);
      const list = txs(S1, 1000n, [
        Array.from({ length: 10 }, (_, i) => ins(r, [String(i), `new ${i}`])),
        [upd(r, ['20', 'updated missing']), ins(r, ['21', 'fine'])],
      ]);
      await pushAll(e, list);
      expect(await h.rows('SELECT id, v FROM c ORDER BY id')).toEqual([
        ...Array.from({ length: 10 }, (_, i) => ({
          id: i,
          v: i === 3 || i === 7 ? 'existing' : `new ${i}`,
        })),
        { id: 20, v: 'updated missing' },
        { id: 21, v: 'fine' },
      ]);
      const by = (op: string, res: string) =>
        e.stats().find((s) => s.operation === op && s.result === res)?.count;
      expect(by('insert', 'conflict')).toBe(2);
      expect(by('insert', 'ok')).toBe(9);
      expect(by('update', 'missing')).toBe(1);
      // Sorted by key: both transactions may or may not share a batch.
      const events = log.lines
        .filter((l) => l.level === 'warn' || l.level === 'error')
        .map((l) => ({ level: l.level, msg: l.msg, key: l.obj.key, i: l.obj.changeIndex }))
        .sort((a, b) => String(a.key).localeCompare(String(b.key)));
      expect(events).toEqual([
        {
          level: 'warn',
          msg: 'update of a missing row: inserted it from the new values',
          key: "id='20'",
          i: 0,
        },
        {
          level: 'warn',
          msg: 'insert of a key that already exists: kept the existing row',
          key: "id='3'",
          i: 3,
        },
        {
          level: 'warn',
          msg: 'insert of a key that already exists: kept the existing row',
          key: "id='7'",
          i: 7,
        },
      ]);
      const warn = log.lines.find((l) => l.obj.key === "id='3'")!;
      expect(warn.obj).toMatchObject({
        source: 'src (sid 1)',
        table: 'public.c',
        lsn: '0/3E8',
      });
    } finally {
      await h.close();
    }
  });

  test('identity columns GENERATED ALWAYS take the source values, by COPY and by the conflict fallback', async () => {
    const h = await harness(
      pgc.get(),
      `CREATE TABLE g (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
       CREATE TABLE gh (id int GENERATED ALWAYS AS IDENTITY, v text,
         kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL DEFAULT false);
       CREATE INDEX gh_versions ON gh (id, kvsz_end);
       INSERT INTO g OVERRIDING SYSTEM VALUE VALUES (5, 'existing')`,
    );
    try {
      const e = await h.engine({
        tables: [mapping('g', 'clone'), mapping('gh', 'history')],
        copyMinRows: 1,
      });
      const r = rel('g', [['id', true], 'v']);
      const rh = rel('gh', [['id', true], 'v']);
      await pushAll(
        e,
        txs(S1, 1000n, [
          [ins(r, ['100', 'a']), ins(r, ['200', 'b']), ins(rh, ['100', 'a'])],
          [ins(r, ['5', 'dup']), ins(r, ['300', 'c']), upd(rh, ['100', 'a2'])],
        ]),
      );
      expect(await h.rows('SELECT id, v FROM g ORDER BY id')).toEqual([
        { id: 5, v: 'existing' },
        { id: 100, v: 'a' },
        { id: 200, v: 'b' },
        { id: 300, v: 'c' },
      ]);
      expect(await h.rows('SELECT id, v FROM gh ORDER BY kvsz_start')).toEqual([
        { id: 100, v: 'a' },
        { id: 100, v: 'a2' },
      ]);
      expect(
        e.stats().find((s) => s.operation === 'insert' && s.result === 'conflict')?.count,
      ).toBe(1);
    } finally {
      await h.close();
    }
  });

  test('a value too long for varchar(n) is a rejected change, never cut: on insert (COPY) and on update (SQL)', async () => {
    const h = await harness(
      pgc.get(),
      'CREATE TABLE t (sid text NOT NULL, id int NOT NULL, v varchar(3), PRIMARY KEY (sid, id))',
    );
    try {
      const e = await h.engine({ tables: [mapping('t', 'clone')], copyMinRows: 1 });
      const r = rel('t', [['id', true], 'v']);
      for (const tx of txs(S1, 1000n, [[ins(r, ['1', 'abcd'])]])) await e.push(tx);
      for (const tx of txs(S2, 1000n, [[ins(r, ['1', 'ab'])], [upd(r, ['1', 'abcdef'])]]))
        await e.push(tx);
      await e.flush();
      for (const [source, changeIndex, op] of [
        [S1, 0, 'insert'],
        [S2, 0, 'update'],
      ] as const) {
        const st = e.sourceStatus(source);
        expect(st.state, op).toBe('failed');
        expect(st.error).toBeInstanceOf(ApplyError);
        expect(st.error).toMatchObject({
          code: 'change_rejected',
          sqlstate: '22001',
          key: "id='1'",
          changeIndex,
        });
        expect(st.error?.message).toMatch(/value too long for type character varying\(3\)/);
      }
      expect(await h.rows('SELECT sid, id, v FROM t')).toEqual([{ sid: '2', id: 1, v: 'ab' }]);
    } finally {
      await h.close();
    }
  });
});
