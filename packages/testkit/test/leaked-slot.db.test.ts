import pg from 'pg';
import { both } from 'pg-copy-streams';
import { expect, test } from 'vitest';
import { TestkitError, waitFor } from '../src/index.js';
import { useCluster } from '../src/vitest.js';

const pgc = useCluster({ version: 17, checkSlots: false });

test('assertNoLeakedSlots fails while a stream holds a slot, and passes once it is closed', async () => {
  const cluster = pgc.get();
  const db = await cluster.createDatabase();
  await cluster.sql('CREATE PUBLICATION p FOR ALL TABLES', [], db);
  await cluster.sql("SELECT pg_create_logical_replication_slot('leaky', 'pgoutput')", [], db);

  const repl = new pg.Client({
    connectionString: cluster.urlFor(db),
    replication: 'database',
  } as pg.ClientConfig);
  await repl.connect();
  const stream = repl.query(
    both("START_REPLICATION SLOT leaky LOGICAL 0/0 (proto_version '1', publication_names 'p')", {
      alignOnCopyDataFrame: true,
    }),
  );
  stream.on('data', () => undefined);
  stream.on('error', () => undefined);
  await waitFor(async () => (await cluster.slots(db)).some((s) => s.active), {
    timeoutMs: 10_000,
    message: 'slot leaky to become active',
  });

  const err = await cluster.assertNoLeakedSlots({ graceMs: 300 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TestkitError);
  expect((err as TestkitError).code).toBe('leaked_slot');
  expect((err as TestkitError).message).toMatch(
    /leaky \(database t_[0-9a-f]+, walsender pid \d+\)/,
  );

  await repl.end().catch(() => undefined);
  await cluster.assertNoLeakedSlots();
  expect(await cluster.dropSlots(db)).toEqual(['leaky']);
});
