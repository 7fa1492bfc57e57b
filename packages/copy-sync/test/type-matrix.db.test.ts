import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { CopySync } from '../src/index.js';
import { destPool, exportSnapshot, rowsAsText } from './helpers.js';

const TYPES_DDL = `
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE TYPE comp AS (a int, b text);
  CREATE DOMAIN posint AS int CHECK (VALUE > 0);
  CREATE TABLE "Types" (
    id int PRIMARY KEY, c_bool boolean, c_int2 smallint, c_int4 int, c_int8 bigint, c_num numeric,
    c_num_p numeric(10,3), c_real real, c_double double precision, c_money money, c_char char(5),
    c_varchar varchar(20), c_text text, c_bytea bytea, c_bit bit(5), c_varbit varbit, c_date date, c_time time,
    c_timetz timetz, c_ts timestamp, c_tstz timestamptz, c_interval interval, c_json json, c_jsonb jsonb,
    c_xml xml, c_uuid uuid, c_point point, c_line line, c_lseg lseg, c_box box, c_path path, c_polygon polygon,
    c_circle circle, c_inet inet, c_cidr cidr, c_macaddr macaddr, c_macaddr8 macaddr8, c_tsvector tsvector,
    c_tsquery tsquery, c_int_arr int[], c_text_arr text[], c_2d int[][], c_comp comp, c_comp_arr comp[],
    c_enum mood, c_domain posint, c_range int4range, c_oid oid, c_big text, c_big_bytea bytea)`;

const ROWS = `
  INSERT INTO "Types" VALUES
  (1, true, 32767, -2147483648, 9223372036854775807, 12345678901234567890.123456789, 1234567.891, 1.5e-10,
   3.141592653589793, '$1,234.56', 'ab', 'vc', 'plain', '\\x00ff10', B'10101', B'1101', '2024-02-29', '23:59:59.999999',
   '12:00+05:30', '2024-01-01 12:34:56.789', '2024-01-01 12:34:56.789+02', '1 year 2 mons -3 days 04:05:06.7',
   '{"a": [1, 2, {"b": null}]}', '{"z": 1, "a": "é"}', '<a x="1">t&amp;</a>', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
   '(1.5,2)', '{1,2,3}', '[(0,0),(1,1)]', '((0,0),(2,2))', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))',
   '<(1,1),5>', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
   'a fat cat sat on a mat', 'fat & (rat | cat)', '{1,NULL,3}', '{"a b","c,d","e\\"f",NULL,""}', '{{1,2},{3,4}}',
   '(1,"x, y")', ARRAY['(1,a)'::comp, '(2,"b\\"c")'::comp], 'happy', 5, '[1,10)', 12345, 'small', '\\x'),
  (2, false, 0, 0, 0, 'NaN', 0, 'Infinity', '-Infinity', 0, '', '', E'tab\\there\\nnewline\\\\back\\rcr \u00e9\u00e8 \u4e2d\u6587 U0001F600 end',
   (SELECT string_agg(set_byte('\\x00'::bytea, 0, i), '\\x'::bytea) FROM generate_series(0, 255) i), B'00000', B'',
   'infinity', '00:00', '00:00+00', '-infinity', 'infinity', '0', '"str"', '[]', '<empty/>', '00000000-0000-0000-0000-000000000000',
   '(0,0)', '{1,-1,0}', '[(0,0),(0,0)]', '((0,0),(0,0))', '((0,0))', '((0,0))', '<(0,0),0>', '::1', '::/0', '00:00:00:00:00:00',
   '00:00:00:00:00:00:00:00', '', 'a', '{}', '{}', '{}', '(,)', '{}', 'sad', 1, 'empty', 0, '', ''),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   (SELECT string_agg(md5(i::text) || E'\\t\\n\\\\', '') FROM generate_series(1, 6000) i),
   (SELECT string_agg(decode(md5(i::text), 'hex'), '') FROM generate_series(1, 8000) i));
  INSERT INTO "Types" (id, c_num, c_double, c_ts) VALUES (4, '-Infinity', 'NaN', 'infinity');`;

// Text COPY is version-independent: each source major copies into a PostgreSQL 17 destination.
describe.each(testedVersions())('type matrix from PostgreSQL %i into 17', (version) => {
  const srcC = useCluster({ version });
  const dstC = useCluster({ version: 17 });

  it('every type, NULLs, empty strings, odd text and rows larger than 64 KiB arrive byte-identical', async () => {
    const s = srcC.get();
    const d = dstC.get();
    const src = await s.createDatabase();
    const dst = await d.createDatabase();
    await s.sql(`${TYPES_DDL}; ${ROWS}`, [], src);
    await d.sql(TYPES_DDL, [], dst);
    const big = await s.sql<{ n: number }>(
      `SELECT octet_length(c_big) + octet_length(c_big_bytea) AS n FROM "Types" WHERE id = 3`,
      [],
      src,
    );
    expect(big[0]?.n).toBeGreaterThan(3 * 65536);
    const snap = await exportSnapshot(s, src);
    const pool = destPool(d, dst);
    try {
      const sync = new CopySync({ destination: pool });
      const [r] = await sync.syncSource({
        source: { connectionString: s.urlFor(src), database: 'types', sid: '1' },
        snapshot: snap,
        tables: [
          {
            source: { schema: 'public', table: 'Types' },
            target: { schema: 'public', table: 'Types' },
            type: 'clone',
          },
        ],
      });
      expect(r?.rows).toBe(4);
      expect(r?.bytes).toBeGreaterThan(3 * 65536);
      // Each column's text and each row's md5, compared across the two servers.
      const cols = (
        await s.sql<{ attname: string }>(
          `SELECT attname FROM pg_attribute WHERE attrelid = '"Types"'::regclass AND attnum > 0 ORDER BY attnum`,
          [],
          src,
        )
      ).map((c) => c.attname);
      expect(cols.length).toBeGreaterThan(45);
      for (const col of cols) {
        const q = `SELECT id || ':' || coalesce(md5("${col}"::text), 'NULL') FROM "Types"`;
        expect(await rowsAsText(d, dst, q), col).toEqual(await rowsAsText(s, src, q));
      }
      const rowQ = `SELECT md5(t::text) FROM "Types" t`;
      expect(await rowsAsText(d, dst, rowQ)).toEqual(await rowsAsText(s, src, rowQ));
    } finally {
      await snap.close();
      await pool.end();
    }
  });
});
