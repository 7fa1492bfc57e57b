import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { BatchScript } from '../src/executor/batch-script.js';
import { PREPARED_PER_CONNECTION } from '../src/executor/prepared-statements.js';

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

  const ours = async (client: { query(text: string): Promise<{ rows: { n: number }[] }> }) =>
    (
      await client.query(
        "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'kvsz_apply_%'",
      )
    ).rows[0]!.n;

  test('statements with parameters run as prepared statements of the connection, parsed once, in one round trip with the rest', async () => {
    const client = await pgc.get().connect();
    try {
      const script = new BatchScript(client);
      const seen: unknown[] = [];
      const text = 'SELECT $1::int + $2::int AS s, $3::text AS t';
      script.add('BEGIN');
      script.addPrepared(text, ['1', '2', null], (rows) => seen.push(rows[0]));
      script.addPrepared(text, ['3', '4', "it's"], (rows) => seen.push(rows[0]));
      script.add('COMMIT');
      await script.flush();
      expect(seen).toEqual([
        { s: 3, t: null },
        { s: 7, t: "it's" },
      ]);
      expect(script.trips).toBe(1);
      script.addPrepared(text, ['5', '6', 'x'], (rows) => seen.push(rows[0]));
      await script.flush();
      expect(seen[2]).toEqual({ s: 11, t: 'x' });
      expect(await ours(client)).toBe(1);
    } finally {
      await client.end();
    }
  });

  test('after a failed pipeline, what it was to parse is parsed again, whether or not the server got to it', async () => {
    const client = await pgc.get().connect();
    try {
      const script = new BatchScript(client);
      // Parsed, then the error: the server holds it, the next use closes it first.
      script.addPrepared('SELECT $1::int AS a', ['1']);
      script.add('SELECT 1 / 0');
      await expect(script.flush()).rejects.toMatchObject({ code: '22012' });
      // The error first: the server never parsed it.
      script.add('SELECT 1 / 0');
      script.addPrepared('SELECT $1::int AS b', ['1']);
      await expect(script.flush()).rejects.toMatchObject({ code: '22012' });
      const a = await new Promise<unknown>((resolve, reject) => {
        script.addPrepared('SELECT $1::int AS a', ['2'], (rows) => resolve(rows[0]));
        script.addPrepared('SELECT $1::int AS b', ['3']);
        script.flush().catch(reject);
      });
      expect(a).toEqual({ a: 2 });
      expect(await ours(client)).toBe(2);
    } finally {
      await client.end();
    }
  });

  test('past its capacity a connection closes the least recently used statements', async () => {
    const client = await pgc.get().connect();
    try {
      const script = new BatchScript(client);
      for (let i = 0; i < PREPARED_PER_CONNECTION + 10; i++) {
        script.addPrepared(`SELECT $1::int + ${i} AS v`, ['1']);
        if (i % 8 === 7) await script.flush();
      }
      await script.flush();
      // The evicted names are closed at the start of the next pipeline.
      let v: unknown;
      script.addPrepared('SELECT $1::int AS v', ['9'], (rows) => {
        v = rows[0]?.v;
      });
      await script.flush();
      expect(v).toBe(9);
      expect(await ours(client)).toBe(PREPARED_PER_CONNECTION);
    } finally {
      await client.end();
    }
  });

  test('with a COPY in the message, parameters are inlined instead (a COPY needs the simple protocol)', async () => {
    const client = await pgc.get().connect();
    try {
      await client.query('CREATE TEMP TABLE w (i int)');
      const script = new BatchScript(client);
      script.addPrepared('INSERT INTO w VALUES ($1::int)', ['1']);
      script.addCopy({ text: 'COPY w FROM STDIN', chunks: [Buffer.from('2\n')], rows: 1 });
      const rows = await script.run<{ n: number }>('SELECT count(*)::int AS n FROM w');
      expect(rows).toEqual([{ n: 2 }]);
      expect(script.trips).toBe(1);
      expect(await ours(client)).toBe(0);
    } finally {
      await client.end();
    }
  });
});
