import { randomBytes } from 'node:crypto';
import type { PgCluster } from '@kuvasz/testkit';

/** A name unique across the cluster (slots are server-wide). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** The publication's members, as the catalog has them. */
export async function publicationMembers(
  cluster: PgCluster,
  db: string,
  publication: string,
): Promise<string[]> {
  const rows = await cluster.sql<{ name: string }>(
    `SELECT n.nspname || '.' || c.relname AS name
       FROM pg_publication_rel pr
       JOIN pg_publication p ON p.oid = pr.prpubid
       JOIN pg_class c ON c.oid = pr.prrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE p.pubname = $1
      ORDER BY 1`,
    [publication],
    db,
  );
  return rows.map((r) => r.name);
}

export function names(list: { schema: string; table: string }[]): string[] {
  return list.map((t) => `${t.schema}.${t.table}`).sort();
}

import type { ReplicationStream } from '../src/stream/replication-stream.js';
import type { TransactionPart } from '../src/types.js';

/** The next part, or a failure after `timeoutMs` (a test must not hang). */
export async function nextPart(
  stream: ReplicationStream,
  timeoutMs = 20_000,
): Promise<TransactionPart> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no transaction part within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    const r = await Promise.race([stream.next(), timeout]);
    if (r.done) throw new Error('the stream ended');
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}

/** Reads parts until `count` whole transactions arrived; returns them part by part. */
export async function readTransactions(
  stream: ReplicationStream,
  count: number,
  options: { ack?: boolean; timeoutMs?: number } = {},
): Promise<TransactionPart[][]> {
  const txs: TransactionPart[][] = [];
  let current: TransactionPart[] = [];
  while (txs.length < count) {
    const part = await nextPart(stream, options.timeoutMs);
    current.push(part);
    if (part.final) {
      txs.push(current);
      current = [];
      if (options.ack !== false) stream.ack(part.endLsn);
    }
  }
  return txs;
}

export async function confirmedFlush(cluster: PgCluster, slot: string): Promise<bigint> {
  const [row] = await cluster.sql<{ lsn: string | null }>(
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  if (!row?.lsn) throw new Error(`slot ${slot} has no confirmed_flush_lsn`);
  return lsnOf(row.lsn);
}

/** The server's current WAL position (everything written so far ends before it). */
export async function currentWalLsn(cluster: PgCluster, db?: string): Promise<bigint> {
  const [row] = await cluster.sql<{ lsn: string }>(
    'SELECT pg_current_wal_lsn()::text AS lsn',
    [],
    db,
  );
  if (!row) throw new Error('pg_current_wal_lsn() returned no row');
  return lsnOf(row.lsn);
}

function lsnOf(text: string): bigint {
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}
