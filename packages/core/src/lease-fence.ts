import { sqlstateOf } from './error-info.js';
import { quoteIdent, quoteLiteral } from './identifiers.js';

/**
 * The SQLSTATE `check_lease` raises (class KV, kuvasz's own): the writing
 * instance no longer holds the source's lease at the epoch it started with.
 */
export const LEASE_LOST_SQLSTATE = 'KV001';

/**
 * What an instance of a fleet holds for one source: its instance id and the
 * epoch it took the lease at. Every destination transaction that writes rows
 * or state of the source checks it before COMMIT (fencing).
 */
export interface LeaseFence {
  owner: string;
  epoch: number;
}

/**
 * The statement that fences a destination transaction: it raises
 * LEASE_LOST_SQLSTATE, aborting the transaction, unless `fence` still holds
 * the lease of (database, sid). Literal SQL, so that it travels with the COMMIT.
 */
export function leaseCheckSql(
  schema: string,
  database: string,
  sid: string,
  fence: LeaseFence,
): string {
  if (!Number.isSafeInteger(fence.epoch) || fence.epoch < 0)
    throw new RangeError(`lease epoch must be a non-negative integer, got ${fence.epoch}`);
  return `SELECT ${quoteIdent(schema)}.check_lease(${quoteLiteral(database)}, ${quoteLiteral(sid)}, ${quoteLiteral(fence.owner)}, ${fence.epoch})`;
}

/** Whether a destination error says the lease was lost (the transaction was fenced off). */
export function isLeaseLost(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    if (sqlstateOf(cur) === LEASE_LOST_SQLSTATE) return true;
    cur = typeof cur === 'object' ? (cur as { cause?: unknown }).cause : undefined;
  }
  return false;
}
