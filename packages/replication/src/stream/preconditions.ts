import pg from 'pg';
import { StreamError } from '../errors.js';
import type { ReplicationConnection } from '../replication-connection.js';
import {
  assertSlotUsable,
  missingSlot,
  type SlotHealth,
  type SlotRow,
  slotHealthFromRow,
  slotHealthSql,
} from '../slot-health.js';

/**
 * Before START_REPLICATION on a fresh connection: the slot must exist, be
 * valid, use pgoutput and be free; the publication must exist. Runs as plain
 * SQL on the walsender itself (simple protocol: literals, no parameters).
 */
export async function checkSlotAndPublication(
  conn: ReplicationConnection,
  major: number,
  slot: string,
  publication: string,
  url: string,
): Promise<SlotHealth> {
  const rows = await conn.sql<SlotRow & Record<string, unknown>>(
    slotHealthSql(major).replace('$1', pg.escapeLiteral(slot)),
    `reading slot ${slot}`,
  );
  const row = rows[0];
  const health: SlotHealth = row ? slotHealthFromRow(slot, row) : missingSlot(slot);
  assertSlotUsable(health, url);
  const pubs = await conn.sql(
    `SELECT 1 FROM pg_publication WHERE pubname = ${pg.escapeLiteral(publication)}`,
    'reading the publication',
  );
  if (pubs.length === 0) {
    throw new StreamError(
      'publication_missing',
      slot,
      `${url}: publication "${publication}" does not exist; create it with syncPublication() before streaming`,
    );
  }
  return health;
}
