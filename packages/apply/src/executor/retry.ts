import { sqlstateOf } from '@kuvasz/core';

export interface RetryOptions {
  /** Attempts for transient errors (connection loss, deadlock, serialization). Default 20. */
  attempts?: number;
  /** First backoff, doubled each attempt. Default 100 ms. */
  initialMs?: number;
  /** Backoff ceiling. Default 5000 ms. */
  maxMs?: number;
}

const TRANSIENT_STATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '53400', // configuration_limit_exceeded
  '58000', // system_error
  '58030', // io_error
]);

const TRANSIENT_NODE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
]);

/**
 * Transient: worth retrying the whole batch on a fresh connection. Everything
 * else the destination says about a change (constraint, type, missing column)
 * is deterministic and goes to isolation instead.
 */
export function isTransient(e: unknown): boolean {
  const state = sqlstateOf(e);
  if (state) return state.startsWith('08') || TRANSIENT_STATES.has(state);
  if (typeof e === 'object' && e !== null) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_NODE_CODES.has(code)) return true;
    const msg = (e as { message?: unknown }).message;
    if (
      typeof msg === 'string' &&
      /Connection terminated|connection error|Client was closed|not queryable|timeout exceeded when trying to connect/i.test(
        msg,
      )
    ) {
      return true;
    }
  }
  return false;
}
