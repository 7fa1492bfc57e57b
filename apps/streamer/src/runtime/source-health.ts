import { formatLsn } from '@kuvasz/core';
import { slotHealth } from '@kuvasz/replication';
import pg from 'pg';
import type { SourceHealth } from './status-store.js';

/**
 * The slot as the source sees it: lag (current WAL position minus the
 * confirmed flush LSN), retained WAL and wal_status. One short connection.
 */
export async function readSourceHealth(url: string, slot: string): Promise<SourceHealth> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    application_name: 'kuvasz-streamer health',
  });
  await client.connect();
  try {
    const health = await slotHealth(client, slot);
    const res = await client.query<{ lag: string | null }>(
      `SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::text AS lag
         FROM pg_replication_slots WHERE slot_name = $1`,
      [slot],
    );
    const lag = res.rows[0]?.lag;
    return {
      lagBytes: lag === null || lag === undefined ? null : BigInt(lag.split('.')[0] ?? '0'),
      retainedWalBytes: health.retainedWalBytes,
      walStatus: health.walStatus,
      confirmedFlushLsn:
        health.confirmedFlushLsn === null ? null : formatLsn(health.confirmedFlushLsn),
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}
