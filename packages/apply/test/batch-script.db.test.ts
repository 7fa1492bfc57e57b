import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { BatchScript } from '../src/executor/batch-script.js';

describe.each(testedVersions())('BatchScript on PG %i', (version) => {
  const pgc = useCluster({ version });

  test('held statements travel with the next awaited one; each callback gets its own rows, in order', async () => {
    const client = await pgc.get().connect();
    try {
      const script = new BatchScript(client);
      const seen: string[] = [];
      script.add('BEGIN');
      script.add('CREATE TEMP TABLE x (i int) ON COMMIT DROP');
      script.add("SET LOCAL enable_hashjoin = off; SET LOCAL work_mem = '8MB'", 2);
      script.add('INSERT INTO x VALUES (1), (2) RETURNING i', 1, (rows) =>
        seen.push(`insert ${rows.map((r) => r.i).join(',')}`),
      );
      script.add('DELETE FROM x WHERE i = 5 RETURNING i', 1, (rows) =>
        seen.push(`delete ${rows.length}`),
      );
      const rows = await script.run<{ n: number; hj: string }>(
        "SELECT count(*)::int AS n, current_setting('enable_hashjoin') AS hj FROM x",
      );
      expect(rows).toEqual([{ n: 2, hj: 'off' }]);
      expect(seen).toEqual(['insert 1,2', 'delete 0']);
      expect(script.trips).toBe(1);

      // A COPY takes the held statements that wait for nothing in front of it.
      script.add('SAVEPOINT s');
      await script.copy({ text: 'COPY x FROM STDIN', chunks: [Buffer.from('3\n4\n')], rows: 2 });
      script.add('RELEASE SAVEPOINT s');
      script.add('COMMIT');
      const [after] = await script.run<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_class WHERE relname = $$x$$ AND relpersistence = $$t$$',
      );
      expect(after?.n).toBe(0);
      expect(script.trips).toBe(3);
    } finally {
      await client.end();
    }
  });

  test('a held statement whose rows are awaited is sent before a COPY, so its callback still runs', async () => {
    const client = await pgc.get().connect();
    try {
      const script = new BatchScript(client);
      await client.query('CREATE TEMP TABLE y (i int)');
      let got: unknown[] | undefined;
      script.add('INSERT INTO y VALUES (7) RETURNING i', 1, (rows) => {
        got = rows;
      });
      await script.copy({ text: 'COPY y FROM STDIN', chunks: [Buffer.from('8\n')], rows: 1 });
      expect(got).toEqual([{ i: 7 }]);
      expect(script.trips).toBe(2);
      expect((await client.query('SELECT count(*)::int AS n FROM y')).rows[0].n).toBe(2);
    } finally {
      await client.end();
    }
  });

  test('held statements are sent once their text passes a bound, results handed out as usual', async () => {
    const client = await pgc.get().connect();
    try {
      const script = new BatchScript(client);
      const got: unknown[] = [];
      script.add("SELECT 'a' AS v", 1, (rows) => got.push(rows[0]?.v));
      expect(await script.flushIfOver(1000)).toBe(false);
      expect(script.trips).toBe(0);
      script.add(`SELECT '${'b'.repeat(2000)}' AS v`, 1, (rows) =>
        got.push(String(rows[0]?.v).length),
      );
      expect(await script.flushIfOver(1000)).toBe(true);
      expect(script.trips).toBe(1);
      expect(got).toEqual(['a', 2000]);
      expect(script.pending).toBe(false);
      expect(await script.flushIfOver(0)).toBe(false);
    } finally {
      await client.end();
    }
  });

  test('an error anywhere rejects the flush, later statements of the message do not run', async () => {
    const client = await pgc.get().connect();
    try {
      await client.query('CREATE TEMP TABLE z (i int)');
      const script = new BatchScript(client);
      script.add('BEGIN');
      script.add('INSERT INTO z VALUES (1)');
      script.add('SELECT 1 / 0');
      script.add('INSERT INTO z VALUES (2)');
      await expect(script.run('COMMIT')).rejects.toMatchObject({ code: '22012' });
      await client.query('ROLLBACK');
      expect((await client.query('SELECT count(*)::int AS n FROM z')).rows[0].n).toBe(0);
      expect(script.pending).toBe(false);
    } finally {
      await client.end();
    }
  });
});
