/**
 * Row rules and the rate limit of the copy, on real servers: the rules'
 * rows and computed columns reach the target (direct and staging loads),
 * a pushed-down condition is applied by the source, a rule that throws
 * fails the table with its message; copies sharing a limit read at that rate.
 */
import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { type CopyRowRules, CopySync, RowRateLimit, SyncFailedError } from '../src/index.js';
import { destPool, snapshotAcquirer } from './helpers.js';

/** Keeps even ids, computes `label` = upper(v) || '#' || id. */
const evenOnly = (where?: string, failOn?: number): CopyRowRules => ({
  bind(columns) {
    const id = columns.findIndex((c) => c.name === 'id');
    const v = columns.findIndex((c) => c.name === 'v');
    expect(columns[id]?.typeOid).toBe(23);
    return {
      reads: [id, v],
      computed: ['label'],
      where,
      row(get) {
        const n = Number(get(id));
        if (n % 2 !== 0) return null;
        if (n === failOn) throw new Error('label: division by zero');
        return [`${(get(v) ?? 'null').toUpperCase()}#${n}`];
      },
    };
  },
});

describe.each(testedVersions())('copy rules on PG %i', (version) => {
  const pgc = useCluster({ version });

  it('loads the kept rows with their computed columns (direct and staging), the pushed-down condition runs on the source', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(
      `CREATE TABLE t (id int PRIMARY KEY, v text);
       INSERT INTO t SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'v' || g || E'\\t\\\\' END FROM generate_series(1, 2000) g;`,
      [],
      src,
    );
    await c.sql(
      `CREATE TABLE t (id int PRIMARY KEY, v text, label text, sid text);
       CREATE TABLE h (id int, v text, label text, sid text NOT NULL,
         kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL,
         PRIMARY KEY (id, sid, kvsz_start));
       -- Another source's row: the history copy goes through staging.
       INSERT INTO h VALUES (1, 'x', 'X', 'other', '1900-01-01', '9999-01-01', false);`,
      [],
      dst,
    );
    const pool = destPool(c, dst);
    try {
      const sync = new CopySync({ destination: pool });
      await sync.syncSource({
        source: { connectionString: c.urlFor(src), database: 'd', sid: 's1' },
        acquireSnapshot: snapshotAcquirer(c, src),
        tables: [
          {
            source: { schema: 'public', table: 't' },
            target: { schema: 'public', table: 't' },
            type: 'clone',
            rows: evenOnly('id <= 1000'),
          },
          {
            source: { schema: 'public', table: 't' },
            target: { schema: 'public', table: 'h' },
            type: 'history',
            rows: evenOnly(),
          },
        ],
      });
      const expected = await c.sql<{ id: number; v: string | null; label: string }>(
        `SELECT id, v, upper(coalesce(v, 'null')) || '#' || id AS label FROM t WHERE id % 2 = 0 ORDER BY id`,
        [],
        src,
      );
      expect(
        await c.sql('SELECT id, v, label FROM t WHERE sid = $1 ORDER BY id', ['s1'], dst),
      ).toEqual(expected.filter((r) => r.id <= 1000));
      expect(
        await c.sql(
          `SELECT id, v, label FROM h WHERE sid = 's1' AND kvsz_end = '9999-01-01 00:00:00+00' ORDER BY id`,
          [],
          dst,
        ),
      ).toEqual(expected);
    } finally {
      await pool.end();
    }
  });

  it('a rule that throws fails the table with its message; nothing of it is loaded', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(
      'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, NULL FROM generate_series(1, 1000) g;',
      [],
      src,
    );
    await c.sql('CREATE TABLE t (id int PRIMARY KEY, v text, label text)', [], dst);
    const pool = destPool(c, dst);
    try {
      const err = await new CopySync({ destination: pool })
        .syncSource({
          source: { connectionString: c.urlFor(src), database: 'd', sid: 's1' },
          acquireSnapshot: snapshotAcquirer(c, src),
          tables: [
            {
              source: { schema: 'public', table: 't' },
              target: { schema: 'public', table: 't' },
              type: 'clone',
              rows: evenOnly(undefined, 666),
            },
          ],
        })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SyncFailedError);
      expect(String((err as SyncFailedError).message)).toContain('label: division by zero');
      expect(await c.sql('SELECT count(*)::int AS n FROM t', [], dst)).toEqual([{ n: 0 }]);
    } finally {
      await pool.end();
    }
  });
});

describe('rate limit', () => {
  const pgc = useCluster({ version: 17 });

  it('copies sharing a limit read at that rate, within 10 %', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    const ddl = `CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text);`;
    await c.sql(
      `${ddl} INSERT INTO a SELECT g, 'a' FROM generate_series(1, 12000) g;
              INSERT INTO b SELECT g, 'b' FROM generate_series(1, 12000) g;`,
      [],
      src,
    );
    await c.sql(ddl, [], dst);
    const pool = destPool(c, dst);
    const rate = 3000;
    const burst = 1000;
    try {
      const limit = new RowRateLimit({ rowsPerSecond: rate, burst });
      const sync = new CopySync({ destination: pool, parallelTables: 2, rateLimit: limit });
      const t0 = performance.now();
      await sync.syncSource({
        source: { connectionString: c.urlFor(src), database: 'd', sid: 's1' },
        acquireSnapshot: snapshotAcquirer(c, src),
        tables: ['a', 'b'].map((t) => ({
          source: { schema: 'public', table: t },
          target: { schema: 'public', table: t },
          type: 'clone' as const,
        })),
      });
      const seconds = (performance.now() - t0) / 1000;
      // The burst goes at once; the rest at the rate (both tables together).
      const measured = (24_000 - burst) / seconds;
      expect(await c.sql('SELECT count(*)::int AS n FROM a', [], dst)).toEqual([{ n: 12000 }]);
      expect(
        measured,
        `${measured.toFixed(0)} rows/s over ${seconds.toFixed(2)} s`,
      ).toBeGreaterThan(rate * 0.9);
      expect(measured).toBeLessThan(rate * 1.1);
    } finally {
      await pool.end();
    }
  });
});
