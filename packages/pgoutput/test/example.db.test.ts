/** The README's example (examples/peek-slot.mjs) against a real slot. */
import { useCluster } from '@kuvasz/testkit/vitest';
import { expect, test } from 'vitest';
// @ts-expect-error: a plain JavaScript example without type declarations
import { peekChanges } from '../examples/peek-slot.mjs';

const pgc = useCluster({ version: 17 });

test('peekChanges decodes a slot into named, typed rows', async () => {
  const cluster = pgc.get();
  const db = await cluster.createDatabase();
  const slot = `example_${db}`;
  await cluster.sql(
    'CREATE TABLE people (id int PRIMARY KEY, name text, born date, score numeric)',
    [],
    db,
  );
  await cluster.sql('CREATE PUBLICATION people_pub FOR TABLE people', [], db);
  await cluster.sql(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot], db);
  await cluster.sql(`INSERT INTO people VALUES (1, 'Ada', '1815-12-10', 12.50)`, [], db);
  await cluster.sql(`UPDATE people SET name = 'Ada L.' WHERE id = 1`, [], db);
  await cluster.sql('DELETE FROM people WHERE id = 1', [], db);
  const client = await cluster.connect(db);
  try {
    const changes = await peekChanges(client, slot, 'people_pub');
    expect(changes.map((c: { op: string }) => c.op)).toEqual([
      'insert',
      'commit',
      'update',
      'commit',
      'delete',
      'commit',
    ]);
    expect(changes[0]).toMatchObject({
      op: 'insert',
      table: 'public.people',
      row: { id: 1, name: 'Ada', born: new Date('1815-12-10T00:00:00Z'), score: '12.50' },
    });
    expect(changes[2].row).toMatchObject({ id: 1, name: 'Ada L.' });
    expect(changes[4].row).toEqual({ id: 1 });
    expect(changes[5].endLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  } finally {
    await client.end();
  }
  await cluster.dropSlots(db);
});
