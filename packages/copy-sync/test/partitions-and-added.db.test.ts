import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { CopySync, type ProgressEvent } from '../src/index.js';
import { destPool, exportSnapshot, rowsAsText } from './helpers.js';

describe('partitioned tables, added tables, progress throttling', () => {
  const pgc = useCluster({ version: 17 });

  it('a partitioned source (cut in ctid ranges) into a target partitioned differently', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(
      `CREATE TABLE m (id int, region text, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
       CREATE TABLE m_eu PARTITION OF m FOR VALUES IN ('eu');
       CREATE TABLE m_us PARTITION OF m FOR VALUES IN ('us');
       INSERT INTO m SELECT i, CASE WHEN i % 3 = 0 THEN 'us' ELSE 'eu' END, repeat('x', 50) FROM generate_series(1, 20000) i;`,
      [],
      src,
    );
    await c.sql(
      `CREATE TABLE m (sid text, id int, region text, v text, PRIMARY KEY (sid, id, region)) PARTITION BY RANGE (id);
       CREATE TABLE m_low PARTITION OF m FOR VALUES FROM (MINVALUE) TO (10000);
       CREATE TABLE m_high PARTITION OF m FOR VALUES FROM (10000) TO (MAXVALUE);`,
      [],
      dst,
    );
    const snap = await exportSnapshot(c, src);
    const pool = destPool(c, dst);
    try {
      const sync = new CopySync({ destination: pool, chunkPages: 8 });
      const [r] = await sync.syncSource({
        source: { connectionString: c.urlFor(src), database: 'd', sid: 'p' },
        snapshot: snap,
        tables: [
          {
            source: { schema: 'public', table: 'm' },
            target: { schema: 'public', table: 'm' },
            type: 'clone',
          },
        ],
      });
      expect(r?.rows).toBe(20000);
      const [st] = await sync.state({ database: 'd', sid: 'p' });
      expect(st?.chunksTotal).toBeGreaterThan(2);
      const q = `SELECT id || region || v FROM m`;
      expect(await rowsAsText(c, dst, q)).toEqual(await rowsAsText(c, src, q));
      expect(await c.sql(`SELECT count(*)::int AS n FROM m_high`, [], dst)).toEqual([{ n: 10001 }]);
    } finally {
      await snap.close();
      await pool.end();
    }
  });

  it('a table added later syncs at a temporary snapshot released once imported; progress is throttled', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(
      `CREATE TABLE added (id int PRIMARY KEY, v text); INSERT INTO added SELECT i, 'a' FROM generate_series(1, 30000) i`,
      [],
      src,
    );
    await c.sql(`CREATE TABLE added (id int PRIMARY KEY, v text)`, [], dst);
    const pool = destPool(c, dst);
    const steps: string[] = [];
    let lsn = 0n;
    try {
      const sync = new CopySync({
        destination: pool,
        chunkPages: 8,
        progressIntervalMs: 3_600_000,
      });
      const events: ProgressEvent[] = [];
      const [r] = await sync.syncSource({
        source: { connectionString: c.urlFor(src), database: 'd', sid: '1' },
        acquireSnapshot: async () => {
          const s = await exportSnapshot(c, src);
          lsn = s.lsn;
          steps.push('acquired');
          return {
            name: s.name,
            lsn: s.lsn,
            release: async () => {
              steps.push('released');
              await s.close();
            },
          };
        },
        onSnapshotImported: () => steps.push('imported'),
        onProgress: (p) => {
          if (steps.at(-1) !== 'progress') steps.push('progress');
          events.push(p);
        },
        tables: [
          {
            source: { schema: 'public', table: 'added' },
            target: { schema: 'public', table: 'added' },
            type: 'append',
          },
        ],
      });
      expect(steps).toEqual(['acquired', 'released', 'imported', 'progress']);
      expect(r).toMatchObject({ rows: 30000, skipBefore: lsn, resumed: false });
      // Many chunks, but an hour-long interval: the first event and the final one only.
      expect(events.length).toBeLessThanOrEqual(2);
      expect(events.at(-1)).toMatchObject({ done: true, rows: 30000 });
      expect((events.at(-1)?.chunksTotal ?? 0) > 2).toBe(true);
      expect(await c.sql(`SELECT count(*)::int AS n FROM added`, [], dst)).toEqual([{ n: 30000 }]);
    } finally {
      await pool.end();
    }
  });
});
