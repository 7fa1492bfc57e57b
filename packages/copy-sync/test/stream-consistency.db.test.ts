import { testedVersions, waitFor } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { CopySync } from '../src/index.js';
import { destPool, exportSnapshot, uniqueSlot } from './helpers.js';

/** Parses test_decoding's `table public.t: INSERT: id[integer]:5 v[integer]:7`. */
function parseChange(data: string): { op: string; id: number; v?: number } | undefined {
  const m =
    /^table public\.t: (INSERT|UPDATE|DELETE): id\[integer\]:(\d+)(?: v\[integer\]:(-?\d+))?/.exec(
      data,
    );
  if (!m?.[1] || !m[2]) return undefined;
  return { op: m[1], id: Number(m[2]), ...(m[3] ? { v: Number(m[3]) } : {}) };
}

describe.each(testedVersions())('copy meets the stream on PostgreSQL %i', (version) => {
  const pgc = useCluster({ version });

  it('copy plus the slot changes after the snapshot equals the source: nothing missed, nothing twice', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(
      `CREATE TABLE public.t (id int PRIMARY KEY, v int NOT NULL);
       INSERT INTO public.t SELECT i, 0 FROM generate_series(1, 30000) i;`,
      [],
      src,
    );
    await c.sql(`CREATE TABLE public.t (sid text, id int PRIMARY KEY, v int NOT NULL)`, [], dst);

    // A writer commits small transactions before, during and after the slot creation and the copy.
    const writer = await c.connect(src);
    let stop = false;
    let written = 0;
    const writes = (async () => {
      let next = 30001;
      for (let i = 0; !stop && i < 20000; i++) {
        const id = 1 + ((i * 7919) % 30000);
        await writer.query(
          `BEGIN; INSERT INTO public.t VALUES (${next++}, ${i});
           UPDATE public.t SET v = v + 1 WHERE id = ${id};
           DELETE FROM public.t WHERE id = ${1 + ((i * 104729) % 30000)} AND v >= 0 AND id % 5 = 0;
           COMMIT`,
        );
        written++;
      }
    })();
    const slot = uniqueSlot('consist');
    const pool = destPool(c, dst);
    try {
      await waitFor(() => written > 20, { timeoutMs: 20_000 });
      const snap = await exportSnapshot(c, src, { temporary: false, slot });
      const sync = new CopySync({ destination: pool, chunkPages: 16 });
      const [result] = await sync.syncSource({
        source: { connectionString: c.urlFor(src), database: 'd', sid: '1' },
        snapshot: { name: snap.name, lsn: snap.lsn },
        onSnapshotImported: () => {
          void snap.close();
        },
        tables: [
          {
            source: { schema: 'public', table: 't' },
            target: { schema: 'public', table: 't' },
            type: 'clone',
          },
        ],
      });
      const during = written;
      await waitFor(() => written > during + 20, { timeoutMs: 20_000 });
      stop = true;
      await writes;
      expect(result?.skipBefore).toBe(snap.lsn);

      const state = new Map<number, number>();
      for (const r of await c.sql<{ id: number; v: number }>(
        'SELECT id, v FROM public.t',
        [],
        dst,
      )) {
        state.set(r.id, r.v);
      }
      expect(state.size).toBeGreaterThan(0);
      const changes = await c.sql<{ lsn: string; data: string }>(
        `SELECT lsn::text, data FROM pg_logical_slot_get_changes($1, NULL, NULL)`,
        [slot],
        src,
      );
      let applied = 0;
      for (const ch of changes) {
        const p = parseChange(ch.data);
        if (!p) continue;
        applied++;
        // Strict apply: an insert of a present key means a change already in the copy
        // (applied twice); an update or delete of an absent key means a missed row.
        if (p.op === 'INSERT') {
          expect(state.has(p.id), `insert of ${p.id} already copied`).toBe(false);
          state.set(p.id, p.v ?? 0);
        } else if (p.op === 'UPDATE') {
          expect(state.has(p.id), `update of missing ${p.id}`).toBe(true);
          state.set(p.id, p.v ?? 0);
        } else {
          expect(state.delete(p.id), `delete of missing ${p.id}`).toBe(true);
        }
      }
      expect(applied).toBeGreaterThan(20);
      const final = await c.sql<{ id: number; v: number }>(
        'SELECT id, v FROM public.t ORDER BY id',
        [],
        src,
      );
      expect([...state.entries()].sort((a, b) => a[0] - b[0])).toEqual(
        final.map((r) => [r.id, r.v]),
      );
    } finally {
      stop = true;
      await writes.catch(() => {});
      await writer.end();
      await pool.end();
      await c.sql('SELECT pg_drop_replication_slot($1)', [slot], src).catch(() => {});
    }
  });
});
