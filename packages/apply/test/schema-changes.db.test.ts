import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import type { SourceRelation } from '../src/index.js';
import { captureLogger, harness, ins, mapping, pushAll, S1, txs, upd } from './helpers.js';

/** A source relation with the given columns as [name, type OID, type modifier]. */
const relation = (cols: [string, number, number][]): SourceRelation => ({
  schema: 'public',
  table: 't',
  replicaIdentity: 'default',
  columns: cols.map(([name, typeOid, typeModifier], i) => ({
    name,
    typeOid,
    typeModifier,
    isKey: i === 0,
  })),
});

describe.each(testedVersions())('source schema changes on PG %i', (version) => {
  const pgc = useCluster({ version });

  test('ignore (default): new source columns are left out, said once per table and set of columns', async () => {
    const h = await harness(pgc.get(), 'CREATE TABLE t (id int PRIMARY KEY, v text)');
    try {
      const log = captureLogger();
      const e = await h.engine({ tables: [mapping('t', 'clone')], logger: log.logger });
      const before = relation([
        ['id', 23, -1],
        ['v', 25, -1],
      ]);
      const after = relation([
        ['id', 23, -1],
        ['v', 25, -1],
        ['extra', 23, -1],
      ]);
      await pushAll(
        e,
        txs(S1, 1000n, [
          [ins(before, ['1', 'a'])],
          [ins(after, ['2', 'b', '7'])],
          [upd(after, ['2', 'c', '8'])],
        ]),
      );
      expect(await h.rows('SELECT id, v FROM t ORDER BY id')).toEqual([
        { id: 1, v: 'a' },
        { id: 2, v: 'c' },
      ]);
      const said = log.lines.filter((l) => /not in the target/.test(l.msg));
      expect(said.map((l) => l.obj.columns)).toEqual([['extra']]);
    } finally {
      await h.close();
    }
  });

  test('add_columns: new source columns are added to the target with their types before their first row', async () => {
    const h = await harness(pgc.get(), 'CREATE TABLE t (id int PRIMARY KEY, v text)');
    try {
      const e = await h.engine({
        tables: [{ ...mapping('t', 'clone'), schemaChanges: 'add_columns' }],
      });
      // numeric(10,2): type modifier ((10 << 16) | 2) + 4; timestamptz; a name that needs quoting.
      const after = relation([
        ['id', 23, -1],
        ['v', 25, -1],
        ['price', 1700, ((10 << 16) | 2) + 4],
        ['Seen At', 1184, -1],
      ]);
      await pushAll(
        e,
        txs(S1, 1000n, [[ins(after, ['1', 'a', '9.99', '2024-01-01 10:00:00+00'])]]),
      );
      expect(
        await h.rows(
          `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS notnull
             FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
        ),
      ).toEqual([
        { name: 'id', type: 'integer', notnull: true },
        { name: 'v', type: 'text', notnull: false },
        { name: 'price', type: 'numeric(10,2)', notnull: false },
        { name: 'Seen At', type: 'timestamp with time zone', notnull: false },
      ]);
      expect(
        await h.rows(`SELECT price::text, "Seen At" = '2024-01-01 10:00:00+00' AS ok FROM t`),
      ).toEqual([{ price: '9.99', ok: true }]);
    } finally {
      await h.close();
    }
  });
});
