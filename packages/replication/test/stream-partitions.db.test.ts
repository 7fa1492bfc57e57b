import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { afterEach, describe, expect, test } from 'vitest';
import { kuvaszObjectName } from '../src/naming.js';
import { relationMapper, syncPublication } from '../src/publication.js';
import { createSlotWithSnapshot } from '../src/slots.js';
import { ReplicationStream } from '../src/stream/replication-stream.js';
import { nextPart } from './helpers.js';

describe.each(testedVersions())('partitions on PostgreSQL %i', (version) => {
  const pgc = useCluster({ version });
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  test('changes of a partition created while streaming reach the configured parent', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    const url = cluster.urlFor(db);
    await cluster.sql(
      `CREATE TABLE "Events" (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
       CREATE TABLE events_2024 PARTITION OF "Events" FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`,
      [],
      db,
    );
    const name = kuvaszObjectName(db, 'parts');
    await syncPublication(url, name, [{ schema: 'public', table: 'Events' }]);
    const created = await createSlotWithSnapshot({ connectionString: url, slot: name });
    const stream = new ReplicationStream({
      connectionString: url,
      slot: name,
      publication: name,
      createdSlot: created,
    });
    cleanup.push(() => cluster.dropSlots(db));
    cleanup.push(() => stream.close());
    await stream.start();
    await cluster.sql(`INSERT INTO "Events" VALUES (1, '2024-05-01')`, [], db);
    const first = await nextPart(stream);
    expect(first.changes[0]?.kind === 'insert' && first.changes[0].relation.name).toBe('Events');
    stream.ack(first.endLsn);

    await cluster.sql(
      `CREATE TABLE events_2025 PARTITION OF "Events" FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')`,
      [],
      db,
    );
    await cluster.sql(`INSERT INTO "Events" VALUES (2, '2025-03-01')`, [], db);
    await cluster.sql(`UPDATE "Events" SET id = 3 WHERE id = 2`, [], db);
    const ins = await nextPart(stream);
    const upd = await nextPart(stream);
    for (const p of [ins, upd]) {
      const c = p.changes[0];
      if (!c || c.kind === 'truncate') throw new Error('expected a row change');
      expect(c.relation.schema).toBe('public');
      expect(c.relation.name).toBe('Events');
    }
    expect(ins.changes[0]?.kind === 'insert' && ins.changes[0].new).toEqual(['2', '2025-03-01']);
    expect(upd.changes[0]?.kind === 'update' && upd.changes[0].new[0]).toBe('3');
    stream.ack(upd.endLsn);
  });

  test('tables published under their own name are mapped with relationMapper', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    const url = cluster.urlFor(db);
    await cluster.sql(
      'CREATE TABLE log_2024 (id int PRIMARY KEY, msg text); CREATE TABLE log_2025 (id int PRIMARY KEY, msg text)',
      [],
      db,
    );
    const name = kuvaszObjectName(db, 'regex');
    const sync = await syncPublication(url, name, [
      { schema: 'public', table: 'log', partitionsRegex: '^log_\\d+$' },
    ]);
    const created = await createSlotWithSnapshot({ connectionString: url, slot: name });
    const stream = new ReplicationStream({
      connectionString: url,
      slot: name,
      publication: name,
      createdSlot: created,
      mapRelation: relationMapper(sync.aliases),
    });
    cleanup.push(() => cluster.dropSlots(db));
    cleanup.push(() => stream.close());
    await cluster.sql(
      `BEGIN; INSERT INTO log_2024 VALUES (1, 'a'); INSERT INTO log_2025 VALUES (2, 'b'); TRUNCATE log_2024; COMMIT;`,
      [],
      db,
    );
    const part = await nextPart(stream);
    expect(
      part.changes.map((c) =>
        c.kind === 'truncate'
          ? `truncate ${c.relations.map((r) => r.name)}`
          : `${c.kind} ${c.relation.name}`,
      ),
    ).toEqual(['insert log', 'insert log', 'truncate log']);
    void version;
  });
});
