import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { CopySync, type ProgressEvent } from '../src/index.js';
import { destPool, exportSnapshot, rowsAsText } from './helpers.js';

describe.each(testedVersions())('initial sync on PostgreSQL %i', (version) => {
  const pgc = useCluster({ version });

  it('copies clone, append and history tables into empty targets with constants and mapped columns', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(
      `CREATE SCHEMA "Src.Schema";
       CREATE TABLE "Src.Schema"."Order" (id int PRIMARY KEY, "Select" text, only_src int, amount numeric,
                                          doubled int GENERATED ALWAYS AS (id * 2) STORED);
       INSERT INTO "Src.Schema"."Order" (id, "Select", only_src, amount)
         SELECT i, 'v' || i, i, i / 3.0 FROM generate_series(1, 20000) i;
       CREATE TABLE public.events (id bigint PRIMARY KEY, payload jsonb);
       INSERT INTO public.events SELECT i, jsonb_build_object('i', i) FROM generate_series(1, 500) i;`,
      [],
      src,
    );
    await c.sql(
      `CREATE SCHEMA "Dst";
       CREATE TABLE "Dst"."Order" (sid text NOT NULL, id int NOT NULL, "Select" text, amount numeric,
                                   only_dst text DEFAULT 'dflt', doubled int, PRIMARY KEY (sid, id));
       CREATE TABLE "Dst".events_append (sid int NOT NULL, id bigint NOT NULL, payload jsonb, PRIMARY KEY (sid, id));
       CREATE TABLE "Dst".events_history (sid int NOT NULL, id bigint NOT NULL, payload jsonb,
         kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL,
         PRIMARY KEY (sid, id, kvsz_start));`,
      [],
      dst,
    );
    const snap = await exportSnapshot(c, src);
    const pool = destPool(c, dst);
    const events: ProgressEvent[] = [];
    let importedAt = -1;
    try {
      // Writes after the snapshot must not be copied.
      const sync = new CopySync({ destination: pool, chunkPages: 20, progressIntervalMs: 0 });
      await c.sql(`INSERT INTO public.events VALUES (100000, '{}')`, [], src);
      const results = await sync.syncSource({
        source: { connectionString: c.urlFor(src), database: 'db1', sid: '7' },
        snapshot: { name: snap.name, lsn: snap.lsn },
        onSnapshotImported: () => {
          importedAt = events.length;
        },
        onProgress: (p) => events.push(p),
        tables: [
          {
            source: { schema: 'Src.Schema', table: 'Order' },
            target: { schema: 'Dst', table: 'Order' },
            type: 'clone',
          },
          {
            source: { schema: 'public', table: 'events' },
            target: { schema: 'Dst', table: 'events_append' },
            type: 'append',
          },
        ],
      });
      expect(importedAt).toBe(0);
      expect(
        results.map((r) => [r.table.table, r.rows, r.skipBefore, r.resumed, r.alreadySynced]),
      ).toEqual([
        ['Order', 20000, snap.lsn, false, false],
        ['events', 500, snap.lsn, false, false],
      ]);
      expect(results.every((r) => r.reconcileBefore === undefined)).toBe(true);
      const order = await c.sql<{
        sid: string;
        n: string;
        dflt: string;
        doubled: string | null;
        sum: string;
      }>(
        `SELECT min(sid) AS sid, count(*)::text AS n, min(only_dst) AS dflt, max(doubled)::text AS doubled, sum(amount)::text AS sum FROM "Dst"."Order"`,
        [],
        dst,
      );
      expect(order[0]).toEqual({
        sid: '7',
        n: '20000',
        dflt: 'dflt',
        doubled: null,
        sum: expect.any(String),
      });
      expect(
        await rowsAsText(
          c,
          dst,
          `SELECT format('%s|%s|%s', id, "Select", amount) FROM "Dst"."Order"`,
        ),
      ).toEqual(
        await rowsAsText(
          c,
          src,
          `SELECT format('%s|%s|%s', id, "Select", amount) FROM "Src.Schema"."Order"`,
        ),
      );
      // The Order table spans several ctid ranges.
      const orderEvents = events.filter((e) => e.table === '"Src.Schema"."Order"');
      const last = orderEvents.at(-1);
      expect(last?.done).toBe(true);
      expect(last?.chunksTotal).toBeGreaterThan(1);
      expect(last?.chunksDone).toBe(last?.chunksTotal);
      expect(last?.rows).toBe(20000);
      expect(orderEvents.filter((e) => e.done)).toHaveLength(1);
      const state = await sync.state({ database: 'db1', sid: '7' });
      expect(
        state.map((s) => [s.table.table, s.status, s.rows, s.chunksDone === s.chunksTotal]),
      ).toEqual([
        ['Order', 'done', 20000, true],
        ['events', 'done', 500, true],
      ]);

      // History: constants, one open version per key.
      const hist = await sync
        .syncSource({
          source: { connectionString: c.urlFor(src), database: 'db1', sid: '7' },
          snapshot: { name: snap.name, lsn: snap.lsn },
          tables: [
            {
              source: { schema: 'public', table: 'events' },
              target: { schema: 'Dst', table: 'events_history' },
              type: 'history',
            },
          ],
        })
        .catch((e: unknown) => e);
      // The first call's readers are gone but the exporting connection is still idle: the snapshot imports again.
      expect(hist).toEqual([expect.objectContaining({ rows: 500, alreadySynced: false })]);
      const h = await c.sql<{ n: string; s: string; e: string; d: boolean }>(
        `SELECT count(*)::text AS n, min(kvsz_start)::date::text AS s, max(kvsz_end)::date::text AS e, bool_or(kvsz_deleted) AS d FROM "Dst".events_history`,
        [],
        dst,
      );
      expect(h[0]).toEqual({ n: '500', s: '1900-01-01', e: '9999-01-01', d: false });
      // A second call for done tables copies nothing.
      const again = await sync.syncSource({
        source: { connectionString: c.urlFor(src), database: 'db1', sid: '7' },
        snapshot: { name: 'not-imported', lsn: 1n },
        tables: [
          {
            source: { schema: 'public', table: 'events' },
            target: { schema: 'Dst', table: 'events_append' },
            type: 'append',
          },
        ],
      });
      expect(again).toEqual([
        expect.objectContaining({ rows: 500, alreadySynced: true, skipBefore: snap.lsn }),
      ]);
    } finally {
      await pool.end();
      await snap.close();
    }
  });
});
