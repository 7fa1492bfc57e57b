import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { harness, mapping, S1 } from './helpers.js';
import { drainSlot, sourceDatabase } from './slot-source.js';

const TARGETS = `
CREATE TABLE c (sid text NOT NULL, code text NOT NULL, id int, v text, PRIMARY KEY (sid, code));
CREATE TABLE a (sid text NOT NULL, code text NOT NULL, id int, v text, PRIMARY KEY (sid, code));
CREATE TABLE h (sid text NOT NULL, code text NOT NULL, id int, v text,
  kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL DEFAULT false);`;

describe.each(testedVersions())(
  'every type under REPLICA IDENTITY USING INDEX on PG %i',
  (version) => {
    const pgc = useCluster({ version });

    test('insert, update, key change, delete, truncate into clone, append and history', async () => {
      const cluster = pgc.get();
      const source = await sourceDatabase(
        cluster,
        `CREATE TABLE t (id int PRIMARY KEY, code text NOT NULL, v text);
       CREATE UNIQUE INDEX t_code ON t (code);
       ALTER TABLE t REPLICA IDENTITY USING INDEX t_code;`,
        'ri',
      );
      const h = await harness(cluster, TARGETS);
      const src = await cluster.connect(source.db);
      try {
        await src.query(`INSERT INTO t VALUES (1, 'a', 'one'), (2, 'b', 'two'), (3, 'c', 'three')`);
        await src.query(`UPDATE t SET v = 'uno' WHERE code = 'a'`);
        await src.query(`UPDATE t SET code = 'bb' WHERE code = 'b'`);
        await src.query(`UPDATE t SET id = 30 WHERE code = 'c'`);
        await src.query(`DELETE FROM t WHERE code = 'a'`);
        const e = await h.engine({
          tables: [
            { ...mapping('t', 'clone'), target: { schema: 'public', table: 'c' } },
            { ...mapping('t', 'append'), target: { schema: 'public', table: 'a' } },
            { ...mapping('t', 'history'), target: { schema: 'public', table: 'h' } },
          ],
        });
        await drainSlot(src, source.slot, source.publication, S1, (tx) => e.push(tx));
        await e.flush();
        expect(e.sourceStatus(S1).state).toBe('running');
        expect(await h.rows('SELECT code, id, v FROM c ORDER BY code')).toEqual([
          { code: 'bb', id: 2, v: 'two' },
          { code: 'c', id: 30, v: 'three' },
        ]);
        expect(await h.rows('SELECT code, id, v FROM a ORDER BY code')).toEqual([
          { code: 'a', id: 1, v: 'uno' },
          { code: 'bb', id: 2, v: 'two' },
          { code: 'c', id: 30, v: 'three' },
        ]);
        expect(
          await h.rows(
            `SELECT code, id, v, kvsz_end = '9999-01-01+00' AS open, kvsz_deleted AS d FROM h ORDER BY code, kvsz_start`,
          ),
        ).toEqual([
          { code: 'a', id: 1, v: 'one', open: false, d: false },
          { code: 'a', id: 1, v: 'uno', open: false, d: true },
          { code: 'b', id: 2, v: 'two', open: false, d: false },
          { code: 'bb', id: 2, v: 'two', open: true, d: false },
          { code: 'c', id: 3, v: 'three', open: false, d: false },
          { code: 'c', id: 30, v: 'three', open: true, d: false },
        ]);
        await src.query('TRUNCATE t');
        await drainSlot(src, source.slot, source.publication, S1, (tx) => e.push(tx));
        await e.flush();
        expect(await h.rows('SELECT count(*)::int AS n FROM c')).toEqual([{ n: 0 }]);
        expect(await h.rows('SELECT count(*)::int AS n FROM a')).toEqual([{ n: 3 }]);
        expect(
          await h.rows(`SELECT count(*)::int AS n FROM h WHERE kvsz_end = '9999-01-01+00'`),
        ).toEqual([{ n: 0 }]);
        expect(e.stats().filter((s) => s.result !== 'ok' && s.result !== 'skipped')).toEqual([]);
      } finally {
        await src.end();
        await cluster.dropSlots(source.db);
        await h.close();
      }
    });
  },
);
