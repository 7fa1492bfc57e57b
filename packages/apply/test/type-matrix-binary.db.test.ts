/**
 * The type matrix in pgoutput's binary mode: every type that has a
 * binary-to-text decoder, read from a slot with `binary 'true'` and applied
 * through every path (COPY BINARY, a text COPY of decoded values, staged and
 * inline updates and deletes, decoded objects), lands identical to the
 * source; and a target whose column types differ gets exactly what the text
 * path gives it.
 */
import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { harness, mapping, S1 } from './helpers.js';
import { binaryDecoders, drainSlot, sourceDatabase } from './slot-source.js';

const TYPES = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE tb (
  id int PRIMARY KEY, f_bool boolean, f_int2 smallint, f_int4 int, f_int8 bigint, f_num numeric,
  f_num_p numeric(10,3), f_real real, f_double double precision, f_char char(5), f_varchar varchar(20),
  f_text text, f_bytea bytea, f_date date, f_time time, f_timetz timetz, f_ts timestamp, f_tstz timestamptz,
  f_interval interval, f_bit bit(4), f_varbit varbit(10), f_json json, f_jsonb jsonb, f_inet inet,
  f_cidr cidr, f_macaddr macaddr, f_macaddr8 macaddr8, f_uuid uuid, f_int_arr int[], f_text_arr text[],
  f_oid oid, f_char1 "char", f_name name);
CREATE TABLE tu (id int PRIMARY KEY, f_mood mood, f_posint posint, f_mood_arr mood[]);`;

const ROW1 = `(1, true, -32768, 2147483647, -9223372036854775808, 'NaN', 1234567.891, 'Infinity', '-Infinity',
  'ab', 'quote''s "dq" \\ back', E'tab\\tnl\\ncr\\rbs\\\\emoji 🐘 ünïcödé', '\\x00ff10', '2024-02-29',
  '23:59:59.999999', '12:00+05:30', 'infinity', '-infinity', '1 year 2 mons -3 days 04:05:06.789', B'1010',
  B'101', '{ "a" : [1, 2.50] }', '{"b": {"c": null}, "a": 1}', '192.168.1.1/24', '10.0.0.0/8',
  '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,NULL,3}',
  '{"a b","c,d",NULL,"\\"q\\""}', 4294967295, 'z', 'nm')`;
const ROW2 = `(2${', NULL'.repeat(32)})`;
const ROW3 = `(3, false, 1, 2, 3, '-0.0001', 0, 1.5, 2.25, 'x', 'v', 't', '\\x', '0044-03-15 BC',
  '00:00', '00:00Z', '2000-01-01 00:00:00.000001', '2020-06-01 12:00:00+02', '0', B'0000', B'', '[]', '[]',
  '::1', '::/0', '00:00:00:00:00:00', '00:00:00:00:00:00:00:00', '00000000-0000-0000-0000-000000000000',
  '[0:1]={7,8}', '{}', 0, 'a', '')`;

/** Writes on the source: inserts, updates that keep or change the key, deletes. */
async function workload(src: pg.Client): Promise<void> {
  await src.query(`INSERT INTO tb VALUES ${ROW1}, ${ROW2}, ${ROW3}`);
  await src.query(
    `INSERT INTO tu VALUES (1, 'happy', 42, '{sad,happy}'), (2, NULL, NULL, NULL), (3, 'sad', 1, '{}')`,
  );
  await src.query(`UPDATE tu SET f_mood = 'ok', f_mood_arr = '{ok}' WHERE id = 3`);
  await src.query(`DELETE FROM tu WHERE id = 2`);
  await src.query(
    `UPDATE tb SET f_text = f_text || '!', f_json = '{"changed": true}' WHERE id = 1`,
  );
  await src.query(
    `UPDATE tb SET f_num = 12345678901234567890.000123, f_real = 1e-7 WHERE id IN (1, 3)`,
  );
  await src.query(`UPDATE tb SET f_int4 = 5 WHERE id = 2`);
  await src.query(`UPDATE tb SET id = 30, f_tstz = '1900-01-01 00:00:00+00' WHERE id = 3`);
  await src.query(
    `UPDATE tb SET f_num = 'Infinity', f_tstz = 'infinity', f_bool = true WHERE id = 30`,
  );
  await src.query(`DELETE FROM tb WHERE id = 2`);
  await src.query(`INSERT INTO tb VALUES ${ROW2}`);
  await src.query(`UPDATE tb SET f_int_arr = '{{1,2},{3,4}}', f_double = -0.0 WHERE id = 1`);
}

/** COPY statements the engine sends (its own client calls, recorded, not altered). */
function recordCopies(): { texts: string[]; restore(): void } {
  const texts: string[] = [];
  const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0] as { text?: unknown } | string;
    const text = typeof q === 'string' ? q : q?.text;
    if (typeof text === 'string' && text.includes('COPY ')) texts.push(text);
    return original.apply(this, args);
  };
  return { texts, restore: () => (proto.query = original) };
}

const PATHS = [
  { path: 'wire tuples, COPY, staged', wire: true, copyMinRows: 1, stageMinRows: 1, full: false },
  { path: 'wire tuples, inline', wire: true, copyMinRows: 1000, stageMinRows: 1000, full: false },
  { path: 'decoded values', wire: false, copyMinRows: 1, stageMinRows: 1, full: false },
  { path: 'REPLICA IDENTITY FULL', wire: true, copyMinRows: 1, stageMinRows: 1, full: true },
] as const;

describe.each(testedVersions().filter((v) => v >= 14))(
  'binary-mode type matrix on PG %i',
  (version) => {
    const pgc = useCluster({ version });
    let copies: ReturnType<typeof recordCopies>;
    beforeEach(() => {
      copies = recordCopies();
    });
    afterEach(() => copies.restore());

    test.each(PATHS)(
      'inserts, updates and deletes land identical to the source ($path)',
      async ({ wire, copyMinRows, stageMinRows, full }) => {
        const cluster = pgc.get();
        const ddl = full ? `${TYPES} ALTER TABLE tb REPLICA IDENTITY FULL;` : TYPES;
        const source = await sourceDatabase(cluster, ddl, 'tb');
        const h = await harness(cluster, TYPES);
        const src = await cluster.connect(source.db);
        try {
          await workload(src);
          const binary = await binaryDecoders(src, ['tb', 'tu']);
          const e = await h.engine({
            tables: [mapping('tb', 'clone'), mapping('tu', 'clone')],
            copyMinRows,
            stageMinRows,
          });
          await drainSlot(src, source.slot, source.publication, S1, (tx) => e.push(tx), 20_000, {
            wire,
            binary,
          });
          await e.flush();
          expect(e.sourceStatus(S1)).toMatchObject({ state: 'running' });
          const dump = 'SELECT tb::text AS r FROM tb ORDER BY id';
          const expected = (await src.query(dump)).rows;
          expect(expected).toHaveLength(3);
          expect(await h.rows(dump)).toEqual(expected);
          const users = 'SELECT tu::text AS r FROM tu ORDER BY id';
          expect(await h.rows(users)).toEqual((await src.query(users)).rows);
          // Wire inserts into a target of the same built-in types went as binary COPY, nothing
          // else did (tu's enum and domain have other OIDs in the destination: decoded, text COPY).
          const binaryCopies = copies.texts.filter((t) => t.includes('(FORMAT binary)'));
          expect(binaryCopies.filter((t) => t.includes('"tu"'))).toEqual([]);
          if (wire && copyMinRows === 1) expect(binaryCopies.length).toBeGreaterThan(0);
          else expect(binaryCopies).toEqual([]);
        } finally {
          await src.end();
          await cluster.dropSlots(source.db);
          await h.close();
        }
      },
    );

    test('a target whose column types differ gets what the text path gives it (decoded, text COPY)', async () => {
      const cluster = pgc.get();
      const source = await sourceDatabase(cluster, TYPES, 'tb');
      const textSlot = `${source.slot}_text`;
      await cluster.sql(
        `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`,
        [textSlot],
        source.db,
      );
      // Every column's type differs, or is text: the destination parses the decoded text.
      const other = TYPES.replace(/CREATE TABLE tb \(([\s\S]*?)\);/, (_m, cols: string) => {
        const retyped = cols
          .split(/,\s*(?![^()]*\))/)
          .map((c) => {
            const name = c.trim().split(/\s+/)[0]!;
            return name === 'id' ? 'id bigint PRIMARY KEY' : `${name} text`;
          })
          .join(', ');
        return `CREATE TABLE tb (${retyped});`;
      });
      const viaText = await harness(cluster, other);
      const viaBinary = await harness(cluster, other);
      const src = await cluster.connect(source.db);
      try {
        await workload(src);
        const binary = await binaryDecoders(src, ['tb', 'tu']);
        const a = await viaText.engine({
          tables: [mapping('tb', 'clone'), mapping('tu', 'clone')],
          copyMinRows: 1,
          stageMinRows: 1,
        });
        const b = await viaBinary.engine({
          tables: [mapping('tb', 'clone'), mapping('tu', 'clone')],
          copyMinRows: 1,
          stageMinRows: 1,
        });
        await drainSlot(src, textSlot, source.publication, S1, (tx) => a.push(tx), 20_000, {
          wire: true,
        });
        await drainSlot(src, source.slot, source.publication, S1, (tx) => b.push(tx), 20_000, {
          wire: true,
          binary,
        });
        await a.flush();
        await b.flush();
        const dump = 'SELECT tb::text AS r FROM tb ORDER BY id';
        const expected = await viaText.rows(dump);
        expect(expected).toHaveLength(3);
        expect(await viaBinary.rows(dump)).toEqual(expected);
        expect(copies.texts.filter((t) => t.includes('(FORMAT binary)'))).toEqual([]);
      } finally {
        await src.end();
        await cluster.dropSlots(source.db);
        await viaText.close();
        await viaBinary.close();
      }
    });
  },
);
