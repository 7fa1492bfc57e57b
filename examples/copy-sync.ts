// @kuvasz/copy-sync: copies tables from SOURCE_URL into DEST_URL inside a
// replication slot's exported snapshot, so that a stream started on that slot
// continues exactly where the copy stopped. The slot here is TEMPORARY (gone
// when this ends); the streamer keeps a permanent one (@kuvasz/replication).
// The target tables must exist, with the source's columns (a sid column, if
// the target has one, gets the source's sid); copy-sync does not create them.
//   SOURCE_URL=postgres://... DEST_URL=postgres://... TABLES=public.orders node copy-sync.js
import { CopySync } from '@kuvasz/copy-sync';
import { displayName, formatLsn, parseLsn } from '@kuvasz/core';
import pg from 'pg';

const sourceUrl = process.env.SOURCE_URL;
const destUrl = process.env.DEST_URL;
if (!sourceUrl || !destUrl) throw new Error('set SOURCE_URL and DEST_URL');
const tables = (process.env.TABLES ?? 'public.orders').split(',').map((name) => {
  const [schema, table] = name.includes('.')
    ? (name.split('.') as [string, string])
    : ['public', name];
  return { source: { schema, table }, target: { schema, table }, type: 'clone' as const };
});

// A walsender connection creates the slot and exports its snapshot (what
// @kuvasz/replication's createSlotWithSnapshot does); it must stay open.
const repl = new pg.Client({
  connectionString: sourceUrl,
  replication: 'database',
} as pg.ClientConfig);
await repl.connect();
const slot = await repl.query<{ consistent_point: string; snapshot_name: string }>(
  `CREATE_REPLICATION_SLOT kuvasz_example_${process.pid} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT`,
);
const { consistent_point, snapshot_name } = slot.rows[0]!;

const destination = new pg.Pool({ connectionString: destUrl, max: 4 });
try {
  const sync = new CopySync({ destination });
  const results = await sync.syncSource({
    source: { connectionString: sourceUrl, database: 'example', sid: '1' },
    snapshot: { name: snapshot_name, lsn: parseLsn(consistent_point) },
    tables,
    onSnapshotImported: () => console.log('snapshot imported: START_REPLICATION could run now'),
    onProgress: (p) =>
      console.log(`${p.table}: ${p.rows} rows, chunk ${p.chunksDone}/${p.chunksTotal}`),
  });
  for (const r of results) {
    console.log(
      `${displayName(r.table)}: ${r.rows} rows copied; stream from ${formatLsn(r.skipBefore)}`,
    );
  }
} finally {
  await destination.end();
  await repl.end();
}
