/**
 * Fencing of the copy in a fleet: with `fence`, every destination
 * transaction of the copy checks the source's lease before COMMIT, so an
 * instance that lost the source writes neither rows nor copy state; with the
 * lease held, the copy is as without it.
 */
import { ensureMetadataSchema, isLeaseLost } from '@kuvasz/core';
import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { CopySync, SyncFailedError } from '../src/index.js';
import { destPool, snapshotAcquirer } from './helpers.js';

describe.each(testedVersions())('fenced copy on PG %i', (version) => {
  const pgc = useCluster({ version });

  it('copies while the lease is held; writes nothing once another instance holds it', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(
      'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, g::text FROM generate_series(1, 500) g',
      [],
      src,
    );
    await c.sql('CREATE TABLE t (id int PRIMARY KEY, v text)', [], dst);
    const pool = destPool(c, dst);
    try {
      const client = await pool.connect();
      await ensureMetadataSchema(client, 'kuvasz').finally(() => client.release());
      const setLease = (owner: string, epoch: number) =>
        pool.query(
          `INSERT INTO kuvasz.source_leases (source_database, sid, owner, epoch) VALUES ('d', 's1', $1, $2)
             ON CONFLICT (source_database, sid) DO UPDATE SET owner = EXCLUDED.owner, epoch = EXCLUDED.epoch`,
          [owner, epoch],
        );
      const sync = new CopySync({ destination: pool });
      const run = () =>
        sync.syncSource({
          source: { connectionString: c.urlFor(src), database: 'd', sid: 's1' },
          acquireSnapshot: snapshotAcquirer(c, src),
          tables: [
            {
              source: { schema: 'public', table: 't' },
              target: { schema: 'public', table: 't' },
              type: 'clone',
            },
          ],
          fence: { owner: 'a', epoch: 1 },
        });

      await setLease('b', 2);
      const err = await run().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SyncFailedError);
      expect((err as SyncFailedError).failures.every((f) => isLeaseLost(f))).toBe(true);
      expect((err as Error).message).toContain('now held by b at epoch 2');
      expect((await pool.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(0);
      expect(await sync.state({ database: 'd', sid: 's1' })).toEqual([]);

      await setLease('a', 1);
      await run();
      expect((await pool.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(500);
    } finally {
      await pool.end();
    }
  });
});
