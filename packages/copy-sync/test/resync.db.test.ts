import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { CopySync } from '../src/index.js';
import { destPool, exportSnapshot, rowsAsText } from './helpers.js';

// Re-syncing into targets that already hold rows: the merge logic is the same on every major.
describe('re-sync into a target holding rows of the source', () => {
  const pgc = useCluster({ version: 17 });

  async function run(
    src: string,
    dst: string,
    type: 'clone' | 'append' | 'history',
    sid: string,
    time?: Date,
  ) {
    const c = pgc.get();
    const pool = destPool(c, dst);
    const snap = await exportSnapshot(c, src);
    try {
      const sync = new CopySync({ destination: pool, chunkPages: 1 });
      await sync.forget({ database: 'd', sid });
      return await sync.syncSource({
        source: { connectionString: c.urlFor(src), database: 'd', sid },
        snapshot: { name: snap.name, lsn: snap.lsn, ...(time ? { time } : {}) },
        tables: [
          {
            source: { schema: 'public', table: 't' },
            target: { schema: 'public', table: 't' },
            type,
          },
        ],
      });
    } finally {
      await snap.close();
      await pool.end();
    }
  }

  it('clone replaces only that sid rows, atomically, through staging', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(
      `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'a' || i FROM generate_series(1, 3000) i`,
      [],
      src,
    );
    await c.sql(`CREATE TABLE t (sid int, id int, v text, PRIMARY KEY (sid, id))`, [], dst);
    await run(src, dst, 'clone', '1');
    await c.sql(`INSERT INTO t SELECT 2, i, 'other' FROM generate_series(1, 10) i`, [], dst);
    await c.sql(
      `DELETE FROM t WHERE id <= 100; UPDATE t SET v = 'b' WHERE id = 500; INSERT INTO t VALUES (5000, 'n')`,
      [],
      src,
    );
    const [r] = await run(src, dst, 'clone', '1');
    expect(r?.rows).toBe(2901);
    expect(await rowsAsText(c, dst, `SELECT id || '|' || v FROM t WHERE sid = 1`)).toEqual(
      await rowsAsText(c, src, `SELECT id || '|' || v FROM t`),
    );
    expect((await c.sql(`SELECT count(*)::int AS n FROM t WHERE sid = 2`, [], dst))[0]).toEqual({
      n: 10,
    });
    // The staging table is gone.
    expect(
      await c.sql(`SELECT relname FROM pg_class WHERE relname LIKE 'copy_sync_stg%'`, [], dst),
    ).toEqual([]);
  });

  it('clone without a sid column truncates and reloads', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(
      `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b')`,
      [],
      src,
    );
    await c.sql(
      `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (2, 'old'), (3, 'gone')`,
      [],
      dst,
    );
    await run(src, dst, 'clone', '1');
    expect(await rowsAsText(c, dst, `SELECT id || '|' || v FROM t`)).toEqual(['1|a', '2|b']);
  });

  it('append upserts and never loses rows', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(
      `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'new1'), (2, 'b'), (4, 'd')`,
      [],
      src,
    );
    await c.sql(
      `CREATE TABLE t (sid text, id int, v text, PRIMARY KEY (sid, id));
       INSERT INTO t VALUES ('9', 1, 'old1'), ('9', 3, 'deleted at source'), ('8', 1, 'other sid')`,
      [],
      dst,
    );
    await run(src, dst, 'append', '9');
    expect(await rowsAsText(c, dst, `SELECT sid || '|' || id || '|' || v FROM t`)).toEqual(
      ['8|1|other sid', '9|1|new1', '9|2|b', '9|3|deleted at source', '9|4|d'].sort(),
    );
  });

  it('append into a non-empty target without a key fails with a typed error naming the fix', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(
      `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a')`,
      [],
      src,
    );
    await c.sql(`CREATE TABLE t (id int, v text); INSERT INTO t VALUES (1, 'x')`, [], dst);
    const err = await run(src, dst, 'append', '1').catch((e: unknown) => e);
    expect(String(err)).toMatch(/no primary key .* add one/);
    expect(await rowsAsText(c, dst, `SELECT id || '|' || v FROM t`)).toEqual(['1|x']);
  });

  it('history closes changed and vanished versions at the sync time and opens new ones', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(
      `CREATE TABLE t (id int PRIMARY KEY, v text, j json);
       INSERT INTO t VALUES (1, 'same', '{"a":1}'), (2, 'before', '{}'), (3, 'vanishes', null)`,
      [],
      src,
    );
    await c.sql(
      `CREATE TABLE t (sid text, id int, v text, j json, kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL,
         kvsz_deleted boolean NOT NULL, PRIMARY KEY (sid, id, kvsz_start));
       INSERT INTO t VALUES ('7', 1, 'other sid', null, '1900-01-01 00:00:00+00', '9999-01-01 00:00:00+00', false)`,
      [],
      dst,
    );
    await run(src, dst, 'history', '1');
    await c.sql(
      `UPDATE t SET v = 'after' WHERE id = 2; DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (4, 'new', '[]')`,
      [],
      src,
    );
    const time = new Date('2030-05-06T07:08:09.123Z');
    await run(src, dst, 'history', '1', time);
    const rows = await rowsAsText(
      c,
      dst,
      `SELECT concat_ws('|', sid, id, v, j::text, to_char(kvsz_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS'),
              to_char(kvsz_end AT TIME ZONE 'UTC', 'YYYY-MM-DD'), kvsz_deleted) FROM t`,
    );
    const tz = '1900-01-01T00:00:00.000';
    const closedAt = '2030-05-06';
    expect(rows).toEqual(
      [
        `1|1|same|{"a":1}|${tz}|9999-01-01|f`,
        `1|2|before|{}|${tz}|${closedAt}|f`,
        `1|2|after|{}|2030-05-06T07:08:09.123|9999-01-01|f`,
        `1|3|vanishes|${tz}|${closedAt}|t`,
        `1|4|new|[]|2030-05-06T07:08:09.123|9999-01-01|f`,
        `7|1|other sid|${tz}|9999-01-01|f`,
      ].sort(),
    );
  });

  it('history sentinels are instants: a destination in another TimeZone gets the same open versions', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(`ALTER DATABASE ${dst} SET timezone TO 'America/New_York'`);
    await c.sql(
      `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'a'), (2, 'b')`,
      [],
      src,
    );
    await c.sql(
      `CREATE TABLE t (sid text, id int, v text, kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL,
         kvsz_deleted boolean NOT NULL, PRIMARY KEY (sid, id, kvsz_start))`,
      [],
      dst,
    );
    await run(src, dst, 'history', '1');
    const [r] = await c.sql<{ open: number; start: number }>(
      `SELECT count(*) FILTER (WHERE kvsz_end = '9999-01-01 00:00:00+00')::int AS open,
              count(*) FILTER (WHERE kvsz_start = '1900-01-01 00:00:00+00')::int AS start FROM t`,
      [],
      dst,
    );
    expect(r).toEqual({ open: 2, start: 2 });
  });
});
