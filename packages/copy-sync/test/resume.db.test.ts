import { type PgCluster, testedVersions, waitFor } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { CopyError, CopySync, CopySyncError, SyncFailedError } from '../src/index.js';
import { destPool, exportSnapshot, rowsAsText } from './helpers.js';

const ROWS = 30000;

async function setup(c: PgCluster, targetDdl: string) {
  const src = await c.createDatabase();
  const dst = await c.createDatabase();
  await c.sql(
    `CREATE TABLE public.t (id int PRIMARY KEY, v text NOT NULL);
     INSERT INTO public.t SELECT i, 'v' || i FROM generate_series(1, ${ROWS}) i;`,
    [],
    src,
  );
  await c.sql(targetDdl, [], dst);
  return { src, dst };
}

const TABLES = (type: 'clone' | 'append' | 'history', target = 't') => [
  { source: { schema: 'public', table: 't' }, target: { schema: 'public', table: target }, type },
];

describe.each(testedVersions())('resume on PostgreSQL %i', (version) => {
  const pgc = useCluster({ version });

  it.each(['clone', 'append'] as const)(
    '%s: an aborted copy resumes its remaining chunks at a new snapshot, with reconcileBefore',
    async (type) => {
      const c = pgc.get();
      const { src, dst } = await setup(
        c,
        `CREATE TABLE public.t (sid text NOT NULL, id int NOT NULL, v text NOT NULL, PRIMARY KEY (sid, id))`,
      );
      const pool = destPool(c, dst);
      const first = await exportSnapshot(c, src);
      const source = { connectionString: c.urlFor(src), database: 'd', sid: 's1' };
      try {
        const ac = new AbortController();
        const sync = new CopySync({
          destination: pool,
          chunkPages: 16,
          parallelTables: 1,
          progressIntervalMs: 0,
        });
        const err = await sync
          .syncSource({
            source,
            snapshot: { name: first.name, lsn: first.lsn },
            tables: TABLES(type),
            signal: ac.signal,
            onProgress: (p) => {
              if (p.chunksDone >= 3) ac.abort(new Error('stop here'));
            },
          })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(CopySyncError);
        expect((err as CopySyncError).code).toBe('aborted');
        const [st] = await sync.state({ database: 'd', sid: 's1' });
        expect(st?.status).toBe('copying');
        expect(st?.chunksDone).toBeGreaterThanOrEqual(3);
        expect(st?.chunksDone).toBeLessThan(st?.chunksTotal ?? 0);
        // Whole chunks only: the target holds exactly the recorded rows.
        const [{ n } = { n: '' }] = await c.sql<{ n: string }>(
          'SELECT count(*)::text AS n FROM public.t',
          [],
          dst,
        );
        expect(Number(n)).toBe(st?.chunksDone ? await chunkRows(c, dst) : -1);
      } finally {
        await first.close(); // the process "crashed": its snapshot is gone
      }
      // Changes between the two snapshots: an update moves row 1 (first chunk, done) to the
      // table's end (a pending chunk), so both snapshots hold it; row 2 is deleted after the copy had it.
      await c.sql(
        `UPDATE public.t SET v = 'moved' WHERE id = 1;
         DELETE FROM public.t WHERE id = 2;
         UPDATE public.t SET v = 'late' WHERE id = ${ROWS - 5};
         INSERT INTO public.t VALUES (${ROWS + 1}, 'new');`,
        [],
        src,
      );
      let second = 0n;
      try {
        const sync = new CopySync({
          destination: pool,
          chunkPages: 999 /* ignored: the plan is kept */,
        });
        const [res] = await sync.syncSource({
          source,
          acquireSnapshot: async () => {
            const s = await exportSnapshot(c, src);
            second = s.lsn;
            return { name: s.name, lsn: s.lsn, release: s.close };
          },
          tables: TABLES(type),
        });
        expect(res).toMatchObject({
          resumed: true,
          skipBefore: first.lsn,
          reconcileBefore: second,
        });
        expect(second).toBeGreaterThan(first.lsn);
        // Until the stream reconciles the changes in [skipBefore, reconcileBefore), the
        // target is the new snapshot plus the row deleted after the first one copied it.
        const expected = [
          ...(await rowsAsText(c, src, `SELECT id || '|' || v FROM public.t`)),
          '2|v2',
        ].sort();
        expect(await rowsAsText(c, dst, `SELECT id || '|' || v FROM public.t`)).toEqual(expected);
        const [st] = await sync.state({ database: 'd', sid: 's1' });
        expect(st).toMatchObject({
          status: 'done',
          skipBefore: first.lsn,
          reconcileBefore: second,
        });
      } finally {
        await pool.end();
      }
    },
  );

  it('an abort in the middle of a chunk rolls that chunk back; the same snapshot then continues', async () => {
    const c = pgc.get();
    const { src, dst } = await setup(
      c,
      `CREATE TABLE public.t (sid text NOT NULL, id int NOT NULL, v text NOT NULL, PRIMARY KEY (sid, id))`,
    );
    const pool = destPool(c, dst, 2);
    const snap = await exportSnapshot(c, src);
    const source = { connectionString: c.urlFor(src), database: 'd', sid: 's1' };
    try {
      const ac = new AbortController();
      let seen = 0;
      const sync = new CopySync({ destination: pool, progressIntervalMs: 0 });
      const err = await sync
        .syncSource({
          source,
          snapshot: snap,
          tables: TABLES('clone'),
          signal: ac.signal,
          onProgress: (p) => {
            seen = p.rows;
            if (p.rows > 0 && p.rows < ROWS) ac.abort(new Error('mid-chunk'));
          },
        })
        .catch((e: unknown) => e);
      expect((err as CopySyncError).code).toBe('aborted');
      expect(seen).toBeGreaterThan(0);
      const [st] = await sync.state({ database: 'd', sid: 's1' });
      expect(st).toMatchObject({ status: 'copying', chunksDone: 0, chunksTotal: 1 });
      expect(await c.sql('SELECT count(*)::int AS n FROM public.t', [], dst)).toEqual([{ n: 0 }]);
      // No session is left inside a COPY on either side.
      await waitFor(
        async () => {
          const busy = await c.sql(
            `SELECT pid FROM pg_stat_activity WHERE query ILIKE 'COPY%' AND state <> 'idle' AND pid <> pg_backend_pid()`,
          );
          return busy.length === 0;
        },
        { timeoutMs: 10_000 },
      );
      const [res] = await sync.syncSource({ source, snapshot: snap, tables: TABLES('clone') });
      expect(res).toMatchObject({ rows: ROWS, skipBefore: snap.lsn, resumed: false });
      expect(res?.reconcileBefore).toBeUndefined();
      expect(await c.sql('SELECT count(*)::int AS n FROM public.t', [], dst)).toEqual([
        { n: ROWS },
      ]);
    } finally {
      await snap.close();
      await pool.end();
    }
  });

  it('a destination error aborts the table, keeps the committed chunks, and the same snapshot continues after the fix', async () => {
    const c = pgc.get();
    const { src, dst } = await setup(
      c,
      `CREATE TABLE public.t (sid text NOT NULL, id int NOT NULL, v text NOT NULL, PRIMARY KEY (sid, id));
       CREATE TABLE public.other (sid text, id int, v text);
       CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS
         $$ BEGIN IF NEW.id = ${ROWS - 100} THEN RAISE EXCEPTION 'boom at %', NEW.id; END IF; RETURN NEW; END $$;
       CREATE TRIGGER boom BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION boom();`,
    );
    await c.sql(
      `CREATE TABLE public.other (id int, v text); INSERT INTO public.other VALUES (1, 'x')`,
      [],
      src,
    );
    const pool = destPool(c, dst);
    const snap = await exportSnapshot(c, src);
    const source = { connectionString: c.urlFor(src), database: 'd', sid: 's1' };
    const tables = [
      ...TABLES('clone'),
      {
        source: { schema: 'public', table: 'other' },
        target: { schema: 'public', table: 'other' },
        type: 'clone' as const,
      },
    ];
    try {
      const sync = new CopySync({
        destination: pool,
        chunkPages: 16,
        readers: 1,
        parallelTables: 1,
      });
      const err = await sync
        .syncSource({ source, snapshot: snap, tables })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SyncFailedError);
      const failed = err as SyncFailedError;
      expect(failed.results.map((r) => r.table.table)).toEqual(['other']);
      expect(failed.failures).toHaveLength(1);
      const f = failed.failures[0] as CopyError;
      expect(f).toBeInstanceOf(CopyError);
      expect(f).toMatchObject({
        table: 'public.t',
        target: 'public.t',
        side: 'destination',
        sqlstate: 'P0001',
      });
      expect(f.message).toContain('public.t');
      expect(f.message).toContain(`boom at ${ROWS - 100}`);
      expect(f.rowsCopied).toBeGreaterThan(0);
      const [st] = (await sync.state({ database: 'd', sid: 's1' })).filter(
        (s) => s.table.table === 't',
      );
      expect(st?.status).toBe('copying');
      expect(st?.chunksDone).toBe(st ? st.chunksTotal - 1 : -1);
      expect(await chunkRows(c, dst)).toBe(f.rowsCopied);

      await c.sql('DROP TRIGGER boom ON public.t', [], dst);
      const again = await sync.syncSource({ source, snapshot: snap, tables });
      expect(
        again.map((r) => [r.table.table, r.resumed, r.alreadySynced, r.reconcileBefore]),
      ).toEqual([
        ['t', true, false, undefined],
        ['other', false, true, undefined],
      ]);
      expect(await rowsAsText(c, dst, `SELECT id || '|' || v FROM public.t`)).toEqual(
        await rowsAsText(c, src, `SELECT id || '|' || v FROM public.t`),
      );
    } finally {
      await snap.close();
      await pool.end();
    }
  });

  it('history: an interrupted copy restarts from zero at the new snapshot (no spurious versions)', async () => {
    const c = pgc.get();
    const { src, dst } = await setup(
      c,
      `CREATE TABLE public.t (sid text NOT NULL, id int NOT NULL, v text NOT NULL, kvsz_start timestamptz NOT NULL,
         kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL, PRIMARY KEY (sid, id, kvsz_start))`,
    );
    const pool = destPool(c, dst);
    const source = { connectionString: c.urlFor(src), database: 'd', sid: 's1' };
    const first = await exportSnapshot(c, src);
    try {
      const ac = new AbortController();
      const sync = new CopySync({
        destination: pool,
        chunkPages: 16,
        parallelTables: 1,
        progressIntervalMs: 0,
      });
      await sync
        .syncSource({
          source,
          snapshot: first,
          tables: TABLES('history'),
          signal: ac.signal,
          onProgress: (p) => {
            if (p.chunksDone >= 2) ac.abort();
          },
        })
        .catch(() => {});
    } finally {
      await first.close();
    }
    await c.sql(
      `UPDATE public.t SET v = 'moved' WHERE id = 1; DELETE FROM public.t WHERE id = 2`,
      [],
      src,
    );
    try {
      const sync = new CopySync({ destination: pool, chunkPages: 16 });
      let second = 0n;
      const [res] = await sync.syncSource({
        source,
        acquireSnapshot: async () => {
          const s = await exportSnapshot(c, src);
          second = s.lsn;
          return { name: s.name, lsn: s.lsn, release: s.close };
        },
        tables: TABLES('history'),
      });
      expect(res).toMatchObject({ resumed: false, skipBefore: second });
      expect(res?.reconcileBefore).toBeUndefined();
      expect(
        await rowsAsText(c, dst, `SELECT id || '|' || v || '|' || kvsz_end::date FROM public.t`),
      ).toEqual(await rowsAsText(c, src, `SELECT id || '|' || v || '|9999-01-01' FROM public.t`));
    } finally {
      await pool.end();
    }
  });
});

async function chunkRows(c: PgCluster, dst: string): Promise<number> {
  const r = await c.sql<{ n: string }>(
    `SELECT coalesce(sum(rows), 0)::text AS n FROM kuvasz.copy_sync_chunks WHERE source_table = 't'`,
    [],
    dst,
  );
  return Number(r[0]?.n);
}
