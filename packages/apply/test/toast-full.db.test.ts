import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { type SourceTransaction, UNCHANGED } from '../src/index.js';
import { harness, mapping, S1 } from './helpers.js';
import { drainSlot, sourceDatabase } from './slot-source.js';

describe.each(testedVersions())('real source changes on PG %i', (version) => {
  const pgc = useCluster({ version });

  // Apart, each update meets the stored row in the destination (a group merging the
  // transactions in memory would hide an update that NULLs the value).
  test.each(['together', 'apart'])(
    'TOAST: a 20,000-character value survives an update of another column (clone and history; transactions applied %s)',
    async (mode) => {
      const cluster = pgc.get();
      const {
        db: srcDb,
        slot,
        publication,
      } = await sourceDatabase(
        cluster,
        `CREATE TABLE big (id int PRIMARY KEY, doc text, n int);
       ALTER TABLE big ALTER COLUMN doc SET STORAGE EXTERNAL;`,
        'big',
      );
      const h = await harness(
        cluster,
        `CREATE TABLE big (id int PRIMARY KEY, doc text, n int);
       CREATE TABLE big_h (id int NOT NULL, doc text, n int, kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL DEFAULT false);`,
      );
      const src = await cluster.connect(srcDb);
      try {
        const doc = 'x'.repeat(10_000) + 'y'.repeat(10_000);
        await src.query('INSERT INTO big VALUES (1, $1, 0)', [doc]);
        await src.query('UPDATE big SET doc = $1 WHERE id = 1', [`${doc}!`]);
        await src.query('UPDATE big SET n = 1 WHERE id = 1');
        await src.query('UPDATE big SET n = 2 WHERE id = 1');
        const list: SourceTransaction[] = [];
        await drainSlot(src, slot, publication, { database: 'src', sid: '1' }, async (tx) => {
          list.push(tx);
        });
        expect(list).toHaveLength(4);
        // The source did not resend the TOASTed value: the case under test is real.
        const third = list[2]!.changes[0]!;
        expect(third.op === 'update' && third.new?.[1]).toBe(UNCHANGED);
        const e = await h.engine({
          tables: [
            mapping('big', 'clone'),
            { ...mapping('big', 'history'), target: { schema: 'public', table: 'big_h' } },
          ],
        });
        for (const tx of list) {
          await e.push(tx);
          if (mode === 'apart') await e.flush();
        }
        await e.flush();
        if (mode === 'apart') expect(e.metrics().groups).toBe(4);
        expect(
          await h.rows('SELECT id, length(doc) AS len, right(doc, 2) AS tail, n FROM big'),
        ).toEqual([{ id: 1, len: 20_001, tail: 'y!', n: 2 }]);
        expect(await h.rows('SELECT length(doc) AS len, n FROM big_h ORDER BY kvsz_start')).toEqual(
          [
            { len: 20_000, n: 0 },
            { len: 20_001, n: 0 },
            { len: 20_001, n: 1 },
            { len: 20_001, n: 2 },
          ],
        );
        expect(e.stats().filter((s) => s.result !== 'ok')).toEqual([]);
        expect(e.sourceStatus(S1).state).toBe('running');
      } finally {
        await src.end();
        await cluster.dropSlots(srcDb);
        await h.close();
      }
    },
  );

  test('REPLICA IDENTITY FULL with a renamed target holding a subset of columns, duplicates affect one row', async () => {
    const cluster = pgc.get();
    const {
      db: srcDb,
      slot,
      publication,
    } = await sourceDatabase(
      cluster,
      `CREATE TABLE f (a int, b text, c jsonb, d point);
       ALTER TABLE f REPLICA IDENTITY FULL;`,
      'f',
    );
    const h = await harness(
      cluster,
      'CREATE SCHEMA dst; CREATE TABLE dst.f_renamed (a int, b text, d point, extra text DEFAULT $$x$$);',
    );
    const src = await cluster.connect(srcDb);
    try {
      await src.query(
        `INSERT INTO f VALUES (1, 'one', '{"k":1}', '(1,1)'), (1, 'one', '{"k":1}', '(1,1)'), (2, 'two', null, null)`,
      );
      await src.query(`UPDATE f SET b = 'uno' WHERE ctid = (SELECT min(ctid) FROM f WHERE a = 1)`);
      await src.query(`UPDATE f SET b = 'deux', d = '(2,2)' WHERE a = 2`);
      await src.query(`DELETE FROM f WHERE b = 'one'`);
      await src.query(`UPDATE f SET a = 3 WHERE a = 2`);
      const e = await h.engine({
        tables: [{ ...mapping('f', 'clone'), target: { schema: 'dst', table: 'f_renamed' } }],
      });
      await drainSlot(src, slot, publication, S1, (tx) => e.push(tx));
      await e.flush();
      expect(await h.rows('SELECT a, b, d::text, extra FROM dst.f_renamed ORDER BY a')).toEqual([
        { a: 1, b: 'uno', d: '(1,1)', extra: 'x' },
        { a: 3, b: 'deux', d: '(2,2)', extra: 'x' },
      ]);
      expect(e.stats().filter((s) => s.result !== 'ok')).toEqual([]);
      expect(e.sourceStatus(S1).state).toBe('running');
    } finally {
      await src.end();
      await cluster.dropSlots(srcDb);
      await h.close();
    }
  });
});
