import { parseLsn } from '@kuvasz/core';
import type { PgCluster } from '@kuvasz/testkit';
import pg from 'pg';

export interface ExportedSnapshot {
  name: string;
  lsn: bigint;
  slot: string;
  /** Ends the exporting replication connection (the snapshot dies with it). */
  close(): Promise<void>;
}

let counter = 0;

/** A unique slot name per call (slots are cluster-wide). */
export function uniqueSlot(prefix = 'cs'): string {
  counter++;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter}`;
}

/**
 * Creates a logical slot with an exported snapshot on a replication
 * connection kept open and idle, like @kuvasz/replication does. `temporary`
 * slots vanish with the connection; permanent ones (test_decoding, to read
 * the stream back in tests) must be dropped by the test.
 */
export async function exportSnapshot(
  cluster: PgCluster,
  database: string,
  opts: { temporary?: boolean; slot?: string } = {},
): Promise<ExportedSnapshot> {
  const slot = opts.slot ?? uniqueSlot();
  const client = new pg.Client({
    connectionString: cluster.urlFor(database),
    replication: 'database',
  } as pg.ClientConfig);
  // The testkit terminates walsenders in teardown; that must not be an uncaught error.
  client.on('error', () => {});
  await client.connect();
  const temp = opts.temporary === false ? '' : ' TEMPORARY';
  const res = await client.query<{ consistent_point: string; snapshot_name: string }>(
    `CREATE_REPLICATION_SLOT ${slot}${temp} LOGICAL test_decoding EXPORT_SNAPSHOT`,
  );
  const row = res.rows[0];
  if (!row) throw new Error('CREATE_REPLICATION_SLOT returned nothing');
  return {
    name: row.snapshot_name,
    lsn: parseLsn(row.consistent_point),
    slot,
    close: () => client.end(),
  };
}

/** An acquireSnapshot for syncSource backed by temporary slots. */
export function snapshotAcquirer(cluster: PgCluster, database: string) {
  return async () => {
    const s = await exportSnapshot(cluster, database);
    return { name: s.name, lsn: s.lsn, release: s.close };
  };
}

export function destPool(cluster: PgCluster, database: string, max = 8): pg.Pool {
  return new pg.Pool({ connectionString: cluster.urlFor(database), max });
}

/** Rows as text, ordered, for byte-for-byte comparisons across servers. */
export async function rowsAsText(
  cluster: PgCluster,
  database: string,
  sql: string,
): Promise<string[]> {
  const rows = await cluster.sql<{ r: string }>(
    `SELECT r FROM (${sql}) q(r) ORDER BY r`,
    [],
    database,
  );
  return rows.map((x) => x.r);
}
