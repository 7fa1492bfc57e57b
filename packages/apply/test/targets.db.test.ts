import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import {
  ApplyEngine,
  describeTable,
  planTargetDdl,
  TargetError,
  validateTarget,
} from '../src/index.js';
import { resolveShape } from '../src/planner/shape.js';
import { loadTargetInfo } from '../src/target/target-meta.js';
import { del, harness, ins, mapping, pushAll, rel, S1, S2, trunc, txs, upd } from './helpers.js';

describe.each(testedVersions())('targets on PG %i', (version) => {
  const pgc = useCluster({ version });

  test('mixed-case, reserved-word and dotted names in another schema; public.t8 and private.t8 kept apart', async () => {
    const h = await harness(
      pgc.get(),
      `CREATE SCHEMA "My.Schema";
       CREATE TABLE "My.Schema"."Order" ("Id" int PRIMARY KEY, "select" text, "a.b" int);
       CREATE SCHEMA private;
       CREATE TABLE public.t8 (id int PRIMARY KEY, v text);
       CREATE TABLE private.t8 (id int PRIMARY KEY, v text);`,
    );
    try {
      const e = await h.engine({
        tables: [
          {
            source: { database: 'src', schema: 'public', table: 'order' },
            target: { schema: 'My.Schema', table: 'Order' },
            type: 'clone',
          },
          mapping('t8', 'clone'),
          mapping('t8', 'clone', 't8', 'src', 'private', 'private'),
        ],
      });
      const r = rel('order', [['Id', true], 'select', 'a.b']);
      const p8 = rel('t8', [['id', true], 'v']);
      const q8 = rel('t8', [['id', true], 'v'], 'default', 'private');
      await pushAll(
        e,
        txs(S1, 1000n, [
          [ins(r, ['1', 'x', '2']), ins(p8, ['1', 'public']), ins(q8, ['1', 'private'])],
          [upd(r, ['2', 'y', '3'], { key: ['1', null, null] }), upd(q8, ['1', 'private2'])],
          [del(r, { key: ['2', null, null] }), ins(r, ['3', "o'brien", null])],
        ]),
      );
      expect(await h.rows('SELECT "Id", "select", "a.b" FROM "My.Schema"."Order"')).toEqual([
        { Id: 3, select: "o'brien", 'a.b': null },
      ]);
      expect(await h.rows('SELECT v FROM public.t8')).toEqual([{ v: 'public' }]);
      expect(await h.rows('SELECT v FROM private.t8')).toEqual([{ v: 'private2' }]);
    } finally {
      await h.close();
    }
  });

  test('two sources into one target distinguished by sid; partitioned targets (by sid, by range)', async () => {
    const h = await harness(
      pgc.get(),
      `CREATE TABLE bysid (sid int NOT NULL, id int NOT NULL, v text, PRIMARY KEY (sid, id)) PARTITION BY LIST (sid);
       CREATE TABLE bysid_1 PARTITION OF bysid FOR VALUES IN (1);
       CREATE TABLE bysid_2 PARTITION OF bysid FOR VALUES IN (2);
       CREATE TABLE byrange (sid text NOT NULL, id int NOT NULL, v text, PRIMARY KEY (sid, id)) PARTITION BY RANGE (id);
       CREATE TABLE byrange_lo PARTITION OF byrange FOR VALUES FROM (0) TO (100);
       CREATE TABLE byrange_hi PARTITION OF byrange FOR VALUES FROM (100) TO (1000);`,
    );
    try {
      const e = await h.engine({
        tables: [
          mapping('s', 'clone', 'bysid'),
          mapping('s', 'clone', 'byrange'),
          mapping('s', 'clone', 'bysid', 'other'),
          mapping('s', 'clone', 'byrange', 'other'),
        ],
      });
      const r = rel('s', [['id', true], 'v']);
      const other = { database: 'other', sid: '2' };
      await pushAll(e, [
        ...txs(S1, 1000n, [
          [ins(r, ['1', 'one']), ins(r, ['150', 'hi'])],
          [upd(r, ['120', 'moved'], { key: ['1', null] })],
          [del(r, { key: ['150', null] })],
        ]),
        ...txs(other, 1000n, [
          [ins(r, ['1', 'uno']), ins(r, ['150', 'alto'])],
          [trunc(r)],
          [ins(r, ['7', 'siete'])],
        ]),
      ]);
      const expected = [
        { sid: '1', id: 120, v: 'moved' },
        { sid: '2', id: 7, v: 'siete' },
      ];
      expect(await h.rows('SELECT sid::text, id, v FROM bysid ORDER BY sid, id')).toEqual(expected);
      expect(await h.rows('SELECT sid::text, id, v FROM byrange ORDER BY sid, id')).toEqual(
        expected,
      );
      expect(
        await h.rows('SELECT tableoid::regclass::text AS p FROM byrange ORDER BY sid'),
      ).toEqual([{ p: 'byrange_hi' }, { p: 'byrange_lo' }]);
      void S2;
    } finally {
      await h.close();
    }
  });

  test('start() lists every target problem; describeTable, validateTarget and planTargetDdl', async () => {
    const h = await harness(
      pgc.get(),
      `CREATE TABLE nosid (id int PRIMARY KEY, v text);
       CREATE TABLE hist (id int, v text, kvsz_start timestamp);
       CREATE TABLE src_t (id int PRIMARY KEY, "Name" varchar(20) NOT NULL, tags text[], g int GENERATED ALWAYS AS (id * 2) STORED);`,
    );
    try {
      const engine = new ApplyEngine({
        destination: h.pool,
        tables: [
          mapping('a', 'clone', 'missing'),
          mapping('b', 'clone', 'nosid', 'db1'),
          mapping('b', 'clone', 'nosid', 'db2'),
          mapping('c', 'history', 'hist'),
        ],
      });
      const err = await engine.start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TargetError);
      const problems = (err as TargetError).problems;
      expect(problems).toHaveLength(5);
      expect(problems.join('\n')).toMatch(/public\.missing does not exist/);
      expect(problems.join('\n')).toMatch(
        /nosid receives rows from several sources but has no sid column/,
      );
      expect(problems.join('\n')).toMatch(/hist has no kvsz_end column/);
      expect(problems.join('\n')).toMatch(
        /hist: column kvsz_start is timestamp without time zone, expected timestamp with time zone/,
      );
      expect(problems.join('\n')).toMatch(/hist has no kvsz_deleted column/);

      const d = await describeTable(h.pool, { schema: 'public', table: 'src_t' });
      expect(d).toMatchObject({
        primaryKey: ['id'],
        replicaIdentity: 'default',
        identityColumns: ['id'],
        kind: 'r',
      });
      expect(d?.columns.map((c) => [c.name, c.type, c.notNull, c.generated])).toEqual([
        ['id', 'integer', true, false],
        ['Name', 'character varying(20)', true, false],
        ['tags', 'text[]', false, false],
        ['g', 'integer', false, true],
      ]);
      expect(await describeTable(h.pool, { schema: 'public', table: 'nope' })).toBeUndefined();
      expect(
        validateTarget(d, {
          target: { schema: 'public', table: 'src_t' },
          type: 'clone',
          requireSid: false,
          sourceColumns: ['id'],
        }),
      ).toEqual([
        'target public.src_t: column Name is NOT NULL without a default and the source has no such column; give it a default or drop NOT NULL',
      ]);
      for (const type of ['clone', 'history'] as const) {
        const ddl = planTargetDdl(d!, {
          target: { schema: 'Dst', table: `t_${type}` },
          type,
          hasSid: true,
        });
        await h.rows(ddl);
        const planned = await describeTable(h.pool, { schema: 'Dst', table: `t_${type}` });
        expect(
          validateTarget(planned, {
            target: { schema: 'Dst', table: `t_${type}` },
            type,
            requireSid: true,
            sourceColumns: ['id', 'Name', 'tags'],
          }),
        ).toEqual([]);
        if (type === 'clone') expect(planned?.primaryKey).toEqual(['sid', 'id']);
      }
      // History: with and without the unique index on open versions, the
      // versions index is there, and the engine probes it by key.
      for (const openVersionIndex of [true, false]) {
        const table = `h_${openVersionIndex}`;
        await h.rows(
          planTargetDdl(d!, {
            target: { schema: 'Dst', table },
            type: 'history',
            hasSid: true,
            openVersionIndex,
          }),
        );
        const indexes = await h.rows<{ def: string }>(
          `SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = $1::regclass ORDER BY 1`,
          [`"Dst".${table}`],
        );
        expect(indexes.map((i) => i.def.replace(/.* USING /, ''))).toEqual([
          'btree (sid, id, kvsz_end)',
          ...(openVersionIndex
            ? [
                `btree (sid, id) WHERE (kvsz_end = '9999-01-01 00:00:00+00'::timestamp with time zone)`,
              ]
            : []),
        ]);
        const info = await loadTargetInfo(h.pool, { schema: 'Dst', table }, 'history');
        const shape = resolveShape(
          {
            schema: 'public',
            table: 'src_t',
            replicaIdentity: 'default',
            columns: [
              { name: 'id', typeOid: 23, isKey: true },
              { name: 'Name', typeOid: 1043, isKey: false },
            ],
          },
          info.info!,
        );
        expect(shape.keyIndex).toBe('any');
      }
    } finally {
      await h.close();
    }
  });
});
