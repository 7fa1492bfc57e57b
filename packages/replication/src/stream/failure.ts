import { messageOf, redactPasswords, sqlstateOf } from '@kuvasz/core';
import { PgoutputError } from '@kuvasz/pgoutput';
import {
  ConnectionError,
  ReplicationError,
  SlotError,
  SlotInUseError,
  SlotLostError,
  StreamError,
} from '../errors.js';
import { slotLostMessage } from '../slot-health.js';
import { SpillIoError } from './spill-log.js';

export interface ClassifiedFailure {
  /** Retrying cannot help: the stream stops with `error`. */
  fatal: boolean;
  error: Error;
}

const FATAL_LOGIN = new Set(['28P01', '28000', '3D000']);
// Bad options or syntax: the same START_REPLICATION would fail again.
const FATAL_REQUEST = new Set(['0A000', '22023', '42601', '08P01', '42501']);

/**
 * Decides whether a reconnect can help: connection loss, a restarting
 * server, a slot busy elsewhere or a spill failure are retried; a lost or
 * missing slot, a missing publication, a refused login and protocol errors
 * stop the stream with a typed error.
 */
export function classifyFailure(
  e: unknown,
  ctx: { slot: string; publication: string; url: string },
): ClassifiedFailure {
  const { slot, publication, url } = ctx;
  if (e instanceof SlotLostError) return { fatal: true, error: e };
  if (e instanceof SlotInUseError) return { fatal: false, error: e };
  if (e instanceof SlotError && e.code === 'slot_missing') {
    return { fatal: true, error: new StreamError('slot_missing', slot, e.message, { cause: e }) };
  }
  if (e instanceof SpillIoError) {
    return {
      fatal: false,
      error: new StreamError('spill_error', slot, `${url}: slot "${slot}": ${e.message}`, {
        cause: e,
      }),
    };
  }
  if (e instanceof StreamError) return { fatal: e.code !== 'spill_error', error: e };
  if (e instanceof PgoutputError) {
    return {
      fatal: true,
      error: new StreamError(
        'protocol_error',
        slot,
        `${url}: slot "${slot}": cannot decode the replication stream: ${e.message}`,
        { cause: e },
      ),
    };
  }
  if (e instanceof ConnectionError) {
    return { fatal: e.sqlstate !== undefined && FATAL_LOGIN.has(e.sqlstate), error: e };
  }
  const state = e instanceof ReplicationError ? e.sqlstate : sqlstateOf(e);
  const msg = redactPasswords(messageOf(e));
  switch (state) {
    case '42704':
      if (/publication/i.test(msg)) {
        return {
          fatal: true,
          error: new StreamError(
            'publication_missing',
            slot,
            `${url}: publication "${publication}" does not exist (${msg}); create it with syncPublication() before streaming`,
            { cause: e, sqlstate: state },
          ),
        };
      }
      return {
        fatal: true,
        error: new StreamError(
          'slot_missing',
          slot,
          `${url}: replication slot "${slot}" does not exist (${msg}); create it (createSlotWithSnapshot) and copy the tables again, since changes since it disappeared are lost`,
          { cause: e, sqlstate: state },
        ),
      };
    case '55006': {
      const pid = /PID (\d+)/i.exec(msg)?.[1];
      return {
        fatal: false,
        error: new SlotInUseError(
          slot,
          pid === undefined ? undefined : Number(pid),
          `${url}: replication slot "${slot}" is in use by server process ${pid ?? '?'}; retrying later`,
          { cause: e, sqlstate: state },
        ),
      };
    }
    case '55000':
      if (/invalidated|can no longer get changes|lost/i.test(msg)) {
        return {
          fatal: true,
          error: new SlotLostError(slot, slotLostMessage(url, slot, msg), {
            cause: e,
            sqlstate: state,
          }),
        };
      }
      break;
    default:
      break;
  }
  if (state !== undefined && FATAL_LOGIN.has(state)) {
    return {
      fatal: true,
      error: new ConnectionError(url, `cannot connect to ${url}: ${msg}`, {
        cause: e,
        sqlstate: state,
      }),
    };
  }
  if (state !== undefined && FATAL_REQUEST.has(state)) {
    return {
      fatal: true,
      error: new StreamError(
        'stream_error',
        slot,
        `${url}: slot "${slot}": the server refused the stream: ${msg}`,
        {
          cause: e,
          sqlstate: state,
        },
      ),
    };
  }
  return {
    fatal: false,
    error:
      e instanceof ReplicationError
        ? e
        : new ConnectionError(url, `${url}: replication connection failed: ${msg}`, {
            cause: e,
            sqlstate: state,
          }),
  };
}
