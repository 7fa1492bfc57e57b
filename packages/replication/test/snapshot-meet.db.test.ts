import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { createSlotWithSnapshot, createTemporarySnapshot, getSlot } from '../src/index.js';
import { kuvaszObjectName } from '../src/naming.js';
import { syncPublication } from '../src/publication.js';
import { ReplicationStream } from '../src/stream/replication-stream.js';
import { nextPart } from './helpers.js';

describe.each(testedVersions())(
  'copy in the snapshot, then stream, on PostgreSQL %i',
  (version) => {
    const pgc = useCluster({ version });

    test('the copy and the stream meet exactly under concurrent writes: no gap, no duplicate', async () => {
      const cluster = pgc.get();
      const db = await cluster.createDatabase();
      const url = cluster.urlFor(db);
      await cluster.sql(
        'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, $$seed$$ FROM generate_series(1, 500) g',
        [],
        db,
      );
      const name = kuvaszObjectName(db, 'meet');
      await syncPublication(url, name, [{ schema: 'public', table: 't' }]);

      // A writer inserts and deletes, one row per transaction, all along.
      const writer = await cluster.connect(db);
      let running = true;
      let nextId = 1000;
      const writing = (async () => {
        while (running) {
          await writer.query(`INSERT INTO t VALUES ($1, 'w')`, [nextId]);
          if (nextId % 3 === 0) await writer.query('DELETE FROM t WHERE id = $1', [nextId - 50]);
          nextId++;
        }
      })();
      try {
        const created = await createSlotWithSnapshot({ connectionString: url, slot: name });
        expect(created.held).toBe(true);
        const slot = await getSlot(url, name);
        expect(slot?.confirmedFlushLsn).toBe(created.consistentPoint);

        // The copy imports the snapshot...
        const reader = await cluster.connect(db);
        await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        await reader.query(`SET TRANSACTION SNAPSHOT '${created.snapshotName}'`);
        // ...and the stream starts on the creating connection while the copy runs.
        const stream = new ReplicationStream({
          connectionString: url,
          slot: name,
          publication: name,
          createdSlot: created,
        });
        try {
          await stream.start();
          expect(created.held).toBe(false);
          const copied = new Set(
            (await reader.query<{ id: number }>('SELECT id FROM t')).rows.map((r) => r.id),
          );
          await reader.query('COMMIT');
          await reader.end();
          expect(copied.size).toBeGreaterThan(0);

          while (nextId < 1300) await new Promise((r) => setImmediate(r));
          running = false;
          await writing;
          await writer.query(`INSERT INTO t VALUES (-1, 'sentinel')`);

          const state = new Set(copied);
          let sentinel = false;
          let inserts = 0;
          let deletes = 0;
          while (!sentinel) {
            const part = await nextPart(stream);
            expect(part.commitLsn).toBeGreaterThanOrEqual(created.consistentPoint);
            for (const c of part.changes) {
              if (c.kind === 'insert') {
                const id = Number(c.new[0]);
                if (id === -1) sentinel = true;
                // A row the copy already has would be a double apply.
                expect(state.has(id)).toBe(false);
                state.add(id);
                inserts++;
              } else if (c.kind === 'delete') {
                const id = Number(c.key?.[0]);
                // A delete of a row we never saw would be a gap.
                expect(state.has(id)).toBe(true);
                state.delete(id);
                deletes++;
              }
            }
            if (part.final) stream.ack(part.endLsn);
          }
          expect(inserts).toBeGreaterThan(1);
          expect(deletes).toBeGreaterThan(1);
          const source = (
            await cluster.sql<{ id: number }>('SELECT id FROM t ORDER BY id', [], db)
          ).map((r) => r.id);
          expect([...state].sort((a, b) => a - b)).toEqual(source);
        } finally {
          await stream.close();
        }
      } finally {
        running = false;
        await writing.catch(() => {});
        await writer.end();
        await cluster.dropSlots(db);
      }
    });

    test('a temporary snapshot for a table added later: copy at its LSN plus later changes is the table', async () => {
      const cluster = pgc.get();
      const db = await cluster.createDatabase();
      const url = cluster.urlFor(db);
      await cluster.sql('CREATE TABLE late (id int PRIMARY KEY)', [], db);
      await cluster.sql('INSERT INTO late SELECT generate_series(1, 100)', [], db);
      const snap = await createTemporarySnapshot(url);
      await cluster.sql('INSERT INTO late SELECT generate_series(101, 150)', [], db);
      const slots = await cluster.slots(db);
      expect(slots.find((s) => s.slot_name === snap.slot)?.active).toBe(true);
      const [temp] = await cluster.sql<{ temporary: boolean }>(
        'SELECT temporary FROM pg_replication_slots WHERE slot_name = $1',
        [snap.slot],
      );
      expect(temp?.temporary).toBe(true);
      const reader = await cluster.connect(db);
      await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await reader.query(`SET TRANSACTION SNAPSHOT '${snap.snapshotName}'`);
      const { rows } = await reader.query<{ n: number }>('SELECT count(*)::int AS n FROM late');
      await reader.query('COMMIT');
      await reader.end();
      expect(rows[0]?.n).toBe(100);
      expect(snap.lsn).toBeGreaterThan(0n);
      await snap.release();
      await snap.release();
      expect((await cluster.slots(db)).find((s) => s.slot_name === snap.slot)).toBeUndefined();
      void version;
    });
  },
);
