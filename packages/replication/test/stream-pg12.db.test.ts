import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { kuvaszObjectName } from '../src/naming.js';
import { relationMapper, syncPublication } from '../src/publication.js';
import { createSlotWithSnapshot } from '../src/slots.js';
import { ReplicationStream } from '../src/stream/replication-stream.js';
import { nextPart } from './helpers.js';

describe('ReplicationStream on PostgreSQL 12', () => {
  const pgc = useCluster({ version: 12 });

  test('protocol 1, leaf partitions reported as their configured parent', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    const url = cluster.urlFor(db);
    await cluster.sql(
      `CREATE TABLE m (id int, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
       CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
       CREATE TABLE m_2025 PARTITION OF m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');`,
      [],
      db,
    );
    const name = kuvaszObjectName(db, 'pg12');
    const sync = await syncPublication(url, name, [{ schema: 'public', table: 'm' }]);
    const created = await createSlotWithSnapshot({ connectionString: url, slot: name });
    const stream = new ReplicationStream({
      connectionString: url,
      slot: name,
      publication: name,
      createdSlot: created,
      mapRelation: relationMapper(sync.aliases),
      // Requested but unavailable before 14: ignored, not an error.
      messages: true,
    });
    try {
      await cluster.sql(
        `BEGIN;
         INSERT INTO m VALUES (1, '2024-02-02', 'a'), (2, '2025-02-02', 'b');
         DELETE FROM m WHERE id = 1;
         COMMIT;`,
        [],
        db,
      );
      const part = await nextPart(stream);
      expect(stream.protocol).toEqual({
        protoVersion: 1,
        streaming: 'off',
        messages: false,
        binary: false,
      });
      expect(
        part.changes.map((c) =>
          c.kind === 'truncate' ? 'truncate' : `${c.kind} ${c.relation.name}`,
        ),
      ).toEqual(['insert m', 'insert m', 'delete m']);
      stream.ack(part.endLsn);
      await stream.close();
      // Resuming the existing slot (its checks run as SQL on the walsender).
      await cluster.sql(`INSERT INTO m VALUES (3, '2025-06-06', 'c')`, [], db);
      const resumed = new ReplicationStream({
        connectionString: url,
        slot: name,
        publication: name,
        mapRelation: relationMapper(sync.aliases),
      });
      try {
        const next = await nextPart(resumed);
        expect(next.changes.map((c) => (c.kind === 'insert' ? c.new[0] : c.kind))).toEqual(['3']);
        expect(next.commitLsn).toBeGreaterThan(part.endLsn);
      } finally {
        await resumed.close();
      }
      const binary = new ReplicationStream({
        connectionString: url,
        slot: name,
        publication: name,
        binary: true,
      });
      await expect(binary.start()).rejects.toThrow(/binary mode needs PostgreSQL 14/);
      await binary.close();
    } finally {
      await stream.close();
      await cluster.dropSlots(db);
    }
  });
});
