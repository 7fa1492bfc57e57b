/**
 * Copies tables from SOURCE_URL into DEST_URL in a slot's exported snapshot
 * and prints the watermarks. The slot is TEMPORARY (gone when this ends); the
 * streamer keeps a permanent one and starts streaming on the same connection.
 *
 *   SOURCE_URL=postgres://... DEST_URL=postgres://... TABLES=public.orders,public.items \
 *     node examples/sync-once.mjs    (bundle first, see the README)
 */
import { CopySync } from '@kuvasz/copy-sync';
import { displayName, formatLsn, parseLsn } from '@kuvasz/core';
import pg from 'pg';

const sourceUrl = process.env.SOURCE_URL ?? 'postgres://postgres@localhost/source';
const destUrl = process.env.DEST_URL ?? 'postgres://postgres@localhost/dest';
const tables = (process.env.TABLES ?? 'public.t').split(',').map((name) => {
  const [schema = 'public', table = name] = name.split('.');
  return { source: { schema, table }, target: { schema, table }, type: 'clone' as const };
});

// What @kuvasz/replication does: a walsender connection creates the slot and exports its snapshot.
const repl = new pg.Client({
  connectionString: sourceUrl,
  replication: 'database',
} as pg.ClientConfig);
await repl.connect();
const slot = await repl.query<{ consistent_point: string; snapshot_name: string }>(
  `CREATE_REPLICATION_SLOT kuvasz_example_${process.pid} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT`,
);
const { consistent_point, snapshot_name } = slot.rows[0] ?? {
  consistent_point: '',
  snapshot_name: '',
};

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
      `${displayName(r.table)}: ${r.rows} rows, skip changes before ${formatLsn(r.skipBefore)}`,
    );
  }
} finally {
  await destination.end();
  await repl.end();
}
