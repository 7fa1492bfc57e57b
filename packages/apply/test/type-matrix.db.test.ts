import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { harness, mapping, S1 } from './helpers.js';
import { drainSlot, sourceDatabase } from './slot-source.js';

/** kuvasz-streamer's type row, and then some: every built-in family, a composite, an enum, a domain. */
const TYPES = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (x int, y text);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE tm (
  id int, f_bool boolean, f_int2 smallint, f_int4 int, f_int8 bigint, f_num numeric, f_num_p numeric(10,3),
  f_real real, f_double double precision, f_money money, f_char char(5), f_varchar varchar(20), f_text text,
  f_bytea bytea, f_date date, f_time time, f_timetz timetz, f_ts timestamp, f_tstz timestamptz,
  f_interval interval, f_bit bit(4), f_varbit varbit(10), f_json json, f_jsonb jsonb, f_xml xml,
  f_point point, f_line line, f_lseg lseg, f_box box, f_path path, f_polygon polygon, f_circle circle,
  f_inet inet, f_cidr cidr, f_macaddr macaddr, f_macaddr8 macaddr8, f_tsvector tsvector, f_tsquery tsquery,
  f_uuid uuid, f_int_arr int[], f_text_arr text[], f_box_arr box[], f_pair pair, f_mood mood, f_posint posint,
  f_range int4range, f_oid oid, f_char1 "char", f_name name);
ALTER TABLE tm REPLICA IDENTITY FULL;`;

const ROW1 = `(1, true, -32768, 2147483647, -9223372036854775808, 'NaN', 1234567.891, 'Infinity', '-Infinity', '$1,234.56',
  'ab', 'quote''s "dq" \\ back', E'tab\\tnl\\ncr\\rbs\\\\emoji 🐘 nul-free ünïcödé', '\\x00ff10', '2024-02-29', '23:59:59.999999',
  '12:00+05:30', 'infinity', '-infinity', '1 year 2 mons -3 days 04:05:06.789', B'1010', B'101', '{ "a" : [1, 2.50] }',
  '{"b": {"c": null}, "a": 1}', '<a x="1">t&amp;</a>', '(1.5,-2)', '{1,-1,0}', '[(0,0),(1,1)]', '(2,2),(0,0)',
  '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))', '<(0,0),5>', '192.168.1.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',
  '08:00:2b:01:02:03:04:05', 'a fat cat sat', 'fat & (rat | cat)', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{1,NULL,3}', '{"a b","c,d",NULL,"\\"q\\""}', '{"(1,1),(0,0)"}', '(7,"x y")', 'happy', 42, '[1,10)', 4294967295, 'z', 'nm')`;
const ROW2 = '(2' + ', NULL'.repeat(48) + ')';
const ROW3 = `(3, false, 1, 2, 3, '-0.0001', 0, 1.5, 2.25, 0, 'x', 'v', 't', '\\x', '1999-12-31', '00:00', '00:00Z',
  '2000-01-01 00:00:00.000001', '2020-06-01 12:00:00+02', '0', B'0000', B'', '[]', '[]', '<r/>', '(0,0)', '{0,1,0}',
  '[(0,0),(0,0)]', '(0,0),(0,0)', '((0,0))', '((0,0))', '<(0,0),0>', '::1', '::/0', '00:00:00:00:00:00',
  '00:00:00:00:00:00:00:00', '', 'a', '00000000-0000-0000-0000-000000000000', '{}', '{}', '{}', '(,)', 'sad', 1,
  'empty', 0, 'a', '')`;

// How inserts reach the engine: decoded values, or wire tuples (bytes) applied by INSERT or by COPY.
const PATHS = [
  { path: 'values', wire: false, copyMinRows: undefined },
  { path: 'wire tuples, INSERT', wire: true, copyMinRows: 1000 },
  { path: 'wire tuples, COPY', wire: true, copyMinRows: 1 },
] as const;

/** The same table with a primary key: updates that keep it, and deletes, come as wire tuples too. */
const KEYED = TYPES.replace('id int, f_bool', 'id int PRIMARY KEY, f_bool').replace(
  'ALTER TABLE tm REPLICA IDENTITY FULL;',
  '',
);

// With a key: updates and deletes as decoded values, or as wire tuples staged by COPY or inlined.
const KEYED_PATHS = [
  { path: 'values, staged', wire: false, copyMinRows: 1, stageMinRows: 1, ddl: KEYED },
  { path: 'wire tuples, staged', wire: true, copyMinRows: 1, stageMinRows: 1, ddl: KEYED },
  { path: 'wire tuples, inline', wire: true, copyMinRows: 1000, stageMinRows: 1000, ddl: KEYED },
] as const;

describe.each(testedVersions())('type matrix on PG %i', (version) => {
  const pgc = useCluster({ version });

  test.each([
    ...PATHS.map((p) => ({ ...p, stageMinRows: undefined, ddl: TYPES, path: `FULL, ${p.path}` })),
    ...KEYED_PATHS,
  ])(
    'inserts, successive updates and deletes land identical to the source ($path)',
    async ({ wire, copyMinRows, stageMinRows, ddl }) => {
      const cluster = pgc.get();
      const source = await sourceDatabase(cluster, ddl, 'tm');
      const h = await harness(cluster, ddl);
      const src = await cluster.connect(source.db);
      try {
        await src.query(`INSERT INTO tm VALUES ${ROW1}, ${ROW2}, ${ROW3}`);
        await src.query(
          `UPDATE tm SET f_text = f_text || '!', f_json = '{"changed": true}' WHERE id = 1`,
        );
        await src.query(
          `UPDATE tm SET f_point = '(9,9)', f_polygon = '((1,1),(2,2),(3,1))', f_xml = '<b/>' WHERE id IN (1, 3)`,
        );
        await src.query(`UPDATE tm SET f_int4 = 5 WHERE id = 2`);
        await src.query(`UPDATE tm SET id = 30, f_box = '(5,5),(1,1)' WHERE id = 3`);
        await src.query(
          `UPDATE tm SET f_num = 'Infinity', f_tstz = 'infinity', f_circle = '<(1,1),1>' WHERE id = 30`,
        );
        await src.query(`DELETE FROM tm WHERE id = 2`);
        await src.query(`INSERT INTO tm VALUES ${ROW2}`);
        await src.query(
          `UPDATE tm SET f_tsvector = 'new vector', f_tsquery = 'new & query', f_pair = '(8,z)' WHERE id = 1`,
        );
        const e = await h.engine({
          tables: [mapping('tm', 'clone')],
          ...(copyMinRows !== undefined ? { copyMinRows } : {}),
          ...(stageMinRows !== undefined ? { stageMinRows } : {}),
        });
        await drainSlot(src, source.slot, source.publication, S1, (tx) => e.push(tx), 20_000, {
          wire,
        });
        await e.flush();
        expect(e.sourceStatus(S1)).toMatchObject({
          state: 'running',
          durableLsn: expect.any(BigInt),
        });
        const dump = 'SELECT tm::text AS r FROM tm ORDER BY id';
        const expected = (await src.query(dump)).rows;
        expect(expected).toHaveLength(3);
        expect(await h.rows(dump)).toEqual(expected);
        expect(e.stats().filter((s) => s.result !== 'ok')).toEqual([]);
      } finally {
        await src.end();
        await cluster.dropSlots(source.db);
        await h.close();
      }
    },
  );
});
