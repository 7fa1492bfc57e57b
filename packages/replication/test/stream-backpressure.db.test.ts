import { type PgCluster, startPostgres } from '@kuvasz/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { kuvaszObjectName } from '../src/naming.js';
import { syncPublication } from '../src/publication.js';
import { createSlotWithSnapshot } from '../src/slots.js';
import { ReplicationStream } from '../src/stream/replication-stream.js';
import { nextPart } from './helpers.js';

// A consumer slower than wal_sender_timeout: the socket is paused, yet status
// updates keep the walsender from timing out.
describe('backpressure', () => {
  let cluster: PgCluster;
  beforeAll(async () => {
    cluster = await startPostgres({ version: 17, settings: { wal_sender_timeout: '2s' } });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  test('a consumer slower than wal_sender_timeout keeps its connection', async () => {
    const db = await cluster.createDatabase();
    const url = cluster.urlFor(db);
    await cluster.sql('CREATE TABLE t (id int PRIMARY KEY, pad text)', [], db);
    const name = kuvaszObjectName(db, 'slow');
    await syncPublication(url, name, [{ schema: 'public', table: 't' }]);
    const created = await createSlotWithSnapshot({ connectionString: url, slot: name });
    const stream = new ReplicationStream({
      connectionString: url,
      slot: name,
      publication: name,
      createdSlot: created,
      streaming: false,
      statusIntervalMs: 500,
      maxQueuedParts: 1,
      part: { maxChanges: 500 },
    });
    try {
      const rows = 40_000;
      await cluster.sql(
        `INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, ${rows}) g`,
        [],
        db,
      );
      const first = await nextPart(stream);
      const [before] = await cluster.sql<{ pid: number }>(
        'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
        [name],
      );
      // The consumer is busy for three times wal_sender_timeout.
      await new Promise((resolve) => setTimeout(resolve, 6000));
      expect(stream.stats.pauses).toBeGreaterThan(0);
      const [during] = await cluster.sql<{ pid: number }>(
        'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
        [name],
      );
      expect(during?.pid).toBe(before?.pid);
      let count = first.changes.length;
      for (;;) {
        const p = await nextPart(stream);
        count += p.changes.length;
        if (p.final) {
          stream.ack(p.endLsn);
          break;
        }
      }
      expect(count).toBe(rows);
      expect(stream.reconnects).toBe(0);
    } finally {
      await stream.close();
      await cluster.dropSlots(db);
    }
  });
});
