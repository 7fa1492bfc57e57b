// @kuvasz/replication: create the slot, copy in its snapshot, stream, ack.
// Streams until STOP_AFTER transactions (default 1) arrived, then drops the
// slot and the publication (a streamer keeps them, and resumes from the slot).
// The role needs REPLICATION, SELECT on the tables, and to own them (or the
// publication): see docs/postgres-setup.md.
//   SOURCE_URL=postgres://... TABLES=public.customers node replication.js

import { formatLsn } from '@kuvasz/core';
import {
  assertPreflight,
  createSlotWithSnapshot,
  dropPublication,
  dropSlot,
  kuvaszObjectName,
  preflight,
  ReplicationStream,
  relationMapper,
  syncPublication,
} from '@kuvasz/replication';
import pg from 'pg';

const connectionString = process.env.SOURCE_URL ?? 'postgres://kuvasz:secret@source:5432/orders';
const tables = (process.env.TABLES ?? 'public.customers').split(',').map((name) => {
  const [schema, table] = name.includes('.')
    ? (name.split('.') as [string, string])
    : ['public', name];
  return { schema, table };
});
const name = kuvaszObjectName('orders', 'eu1'); // kuvasz_orders_eu1: slot and publication

assertPreflight(await preflight({ connectionString, tables, publication: name, slot: name }));
const pub = await syncPublication(connectionString, name, tables);

// 1. The slot, with an exported snapshot; its connection stays open and idle.
const created = await createSlotWithSnapshot({ connectionString, slot: name });

// 2. The copy imports the snapshot (in practice: @kuvasz/copy-sync with
//    snapshot { name: created.snapshotName, lsn: created.consistentPoint }).
const reader = new pg.Client({ connectionString });
await reader.connect();
await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
await reader.query(`SET TRANSACTION SNAPSHOT '${created.snapshotName}'`);

// 3. Once every reader has imported it, streaming starts on the slot's own
//    connection at its consistent point, even while the copy runs: no gap, no overlap.
const stream = new ReplicationStream({
  connectionString,
  slot: name,
  publication: name,
  createdSlot: created,
  mapRelation: relationMapper(pub.aliases), // PG 12 partitions, partitions_regex
});
for (const t of tables) {
  const { rows } = await reader.query(`SELECT count(*)::int AS n FROM "${t.schema}"."${t.table}"`);
  console.log(`copied ${t.schema}.${t.table}: ${rows[0].n} rows`);
}
await reader.query('COMMIT');
await reader.end();
console.log('streaming');

// 4. Consume committed transactions in parts; ack what is durable.
let transactions = 0;
for await (const part of stream) {
  for (const c of part.changes) {
    const on = c.kind === 'truncate' ? c.relations : [c.relation];
    console.log(
      c.kind,
      on.map((r) => `${r.schema}.${r.name}`).join(', '),
      `(commit ${formatLsn(part.commitLsn)})`,
    );
  }
  if (part.final) {
    // ... after the destination COMMIT that covers this transaction:
    stream.ack(part.endLsn);
    if (++transactions >= Number(process.env.STOP_AFTER ?? 1)) break;
  }
}
await stream.close();
await dropSlot(connectionString, name);
await dropPublication(connectionString, name);
