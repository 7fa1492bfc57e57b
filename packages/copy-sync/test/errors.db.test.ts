import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, it } from 'vitest';
import {
  CopyError,
  CopySync,
  CopySyncError,
  SyncFailedError,
  type TableSpec,
} from '../src/index.js';
import { destPool, exportSnapshot, rowsAsText } from './helpers.js';

const spec = (source: string, target = source, type: TableSpec['type'] = 'clone'): TableSpec => ({
  source: { schema: 'public', table: source },
  target: { schema: 'public', table: target },
  type,
});

describe('failures', () => {
  const pgc = useCluster({ version: 17 });

  it('destination and source failures give typed errors per table, leave targets as they were, and the other tables finish', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(
      `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
       CREATE TABLE good (id int PRIMARY KEY, v text); INSERT INTO good SELECT i, 'g' FROM generate_series(1, 100) i;
       CREATE TABLE "notnull" (id int PRIMARY KEY, v text); INSERT INTO "notnull" SELECT i, 'n' FROM generate_series(1, 100) i;
       CREATE TABLE enums (id int PRIMARY KEY, m mood); INSERT INTO enums VALUES (1, 'sad'), (2, 'happy');
       CREATE TABLE secret (id int PRIMARY KEY); INSERT INTO secret VALUES (1);
       CREATE ROLE reader LOGIN PASSWORD 'reader-pw-123';
       GRANT SELECT ON good, "notnull", enums TO reader;`,
      [],
      src,
    );
    await c.sql(
      `CREATE TYPE mood AS ENUM ('sad', 'ok');
       CREATE TABLE good (id int PRIMARY KEY, v text);
       CREATE TABLE "notnull" (id int PRIMARY KEY, v text, required text NOT NULL);
       INSERT INTO "notnull" VALUES (-1, 'before', 'x');
       CREATE TABLE enums (id int PRIMARY KEY, m mood);
       CREATE TABLE secret (id int PRIMARY KEY);
       CREATE TABLE dropped (id int PRIMARY KEY);`,
      [],
      dst,
    );
    const snap = await exportSnapshot(c, src);
    const pool = destPool(c, dst);
    try {
      const sync = new CopySync({ destination: pool });
      const err = await sync
        .syncSource({
          // A role without SELECT on `secret`.
          source: {
            connectionString: c.urlFor(src, { user: 'reader', password: 'reader-pw-123' }),
            database: 'd',
            sid: '1',
          },
          snapshot: snap,
          tables: [
            spec('good'),
            spec('notnull'),
            spec('enums'),
            spec('secret'),
            spec('dropped'),
            spec('good', 'missing'),
          ],
        })
        .catch((e: unknown) => e);
      expect(err, String(err)).toBeInstanceOf(SyncFailedError);
      const e = err as SyncFailedError;
      expect(e.results.map((r) => [r.table.table, r.rows])).toEqual([['good', 100]]);
      const by = new Map(e.failures.map((f) => [`${f.table}->${f.target}`, f]));
      expect(by.get('public."notnull"->public."notnull"')).toMatchObject({
        side: 'destination',
        sqlstate: '23502',
      });
      expect(by.get('public.enums->public.enums')).toMatchObject({
        side: 'destination',
        sqlstate: '22P02',
      });
      expect(by.get('public.enums->public.enums')?.message).toMatch(
        /public\.enums.*invalid input value for enum mood: "happy"/,
      );
      expect(by.get('public.secret->public.secret')).toMatchObject({
        side: 'source',
        sqlstate: '42501',
      });
      expect(by.get('public.secret->public.secret')?.message).toMatch(/permission denied/);
      expect(by.get('public.dropped->public.dropped')).toMatchObject({ side: 'source' });
      expect(by.get('public.dropped->public.dropped')?.message).toMatch(
        /source table does not exist/,
      );
      expect(by.get('public.good->public.missing')).toMatchObject({ side: 'destination' });
      expect(by.get('public.good->public.missing')?.message).toMatch(
        /target table does not exist; create it/,
      );
      // The NOT NULL target held a row already: its rows went to staging (100) and the merge failed.
      expect(e.failures.map((f) => [f instanceof CopyError, f.table, f.rowsCopied])).toEqual(
        e.failures.map((f) => [true, f.table, f.table === 'public."notnull"' ? 100 : 0]),
      );
      expect(e.message).not.toContain('reader-pw-123');
      // Targets untouched.
      expect(await rowsAsText(c, dst, `SELECT id || v FROM "notnull"`)).toEqual(['-1before']);
      expect(
        await rowsAsText(
          c,
          dst,
          `SELECT id::text FROM enums UNION ALL SELECT id::text FROM secret`,
        ),
      ).toEqual([]);
    } finally {
      await snap.close();
      await pool.end();
    }
  });

  it('a snapshot that cannot be imported is a typed error without the password', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    const pool = destPool(c, dst);
    try {
      const sync = new CopySync({ destination: pool });
      const err = await sync
        .syncSource({
          source: { connectionString: c.urlFor(src), database: 'd', sid: '1' },
          snapshot: { name: '00000003-00000002-1', lsn: 1n },
          tables: [spec('t')],
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CopySyncError);
      expect((err as CopySyncError).code).toBe('snapshot_import_failed');
      expect((err as Error).message).toMatch(
        /cannot import snapshot 00000003-00000002-1 .*\*\*\*@/,
      );
      expect((err as Error).message).not.toContain(c.password);
    } finally {
      await pool.end();
    }
  });

  it('bad options are rejected before any connection', async () => {
    const c = pgc.get();
    const pool = destPool(c, 'postgres');
    try {
      expect(() => new CopySync({ destination: pool, parallelTables: 0 })).toThrow(
        /parallelTables must be a positive integer/,
      );
      const sync = new CopySync({ destination: pool });
      const err = await sync
        .syncSource({
          source: { connectionString: '', database: 'd', sid: '' },
          tables: [spec('a'), spec('a'), { ...spec('b'), type: 'nope' as 'clone' }],
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CopySyncError);
      expect((err as CopySyncError).code).toBe('invalid_options');
      const msg = (err as Error).message;
      for (const part of [
        'connectionString is required',
        'sid is required',
        'acquireSnapshot',
        'listed twice',
        "got 'nope'",
      ]) {
        expect(msg).toContain(part);
      }
    } finally {
      await pool.end();
    }
  });

  it('metadata tables are created once under concurrent first use; forget drops the state and staging', async () => {
    const c = pgc.get();
    const dst = await c.createDatabase();
    const pools = Array.from({ length: 4 }, () => destPool(c, dst, 2));
    try {
      const syncs = pools.map((p) => new CopySync({ destination: p, metadataSchema: 'Meta Data' }));
      expect(await Promise.all(syncs.map((s) => s.state({ database: 'd', sid: '1' })))).toEqual([
        [],
        [],
        [],
        [],
      ]);
      expect(await syncs[0]?.forget({ database: 'd', sid: '1' })).toBe(0);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });
});

describe('PostgreSQL 12 (no TID range scans)', () => {
  const pgc = useCluster({ version: 12 });

  it('copies a large table as one chunk', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(
      `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'x' FROM generate_series(1, 20000) i`,
      [],
      src,
    );
    await c.sql(`CREATE TABLE t (id int PRIMARY KEY, v text)`, [], dst);
    const snap = await exportSnapshot(c, src);
    const pool = destPool(c, dst);
    try {
      const sync = new CopySync({ destination: pool, chunkPages: 4 });
      const [r] = await sync.syncSource({
        source: { connectionString: c.urlFor(src), database: 'd', sid: '1' },
        snapshot: snap,
        tables: [spec('t')],
      });
      expect(r?.rows).toBe(20000);
      const [st] = await sync.state({ database: 'd', sid: '1' });
      expect(st?.chunksTotal).toBe(1);
    } finally {
      await snap.close();
      await pool.end();
    }
  });
});
