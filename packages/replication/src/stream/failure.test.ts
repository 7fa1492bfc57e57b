import { PgoutputDecodeError, PgoutputDecoder } from '@kuvasz/pgoutput';
import { describe, expect, test } from 'vitest';
import {
  ConnectionError,
  SlotError,
  SlotInUseError,
  SlotLostError,
  StreamError,
} from '../errors.js';
import { classifyFailure } from './failure.js';
import { SpillIoError } from './spill-log.js';

const ctx = { slot: 's', publication: 'p', url: 'postgres://u:***@h/d' };

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('classifyFailure', () => {
  test('what a reconnect cannot fix stops the stream with a typed error', () => {
    const slot = classifyFailure(pgError('42704', 'replication slot "s" does not exist'), ctx);
    expect(slot.fatal).toBe(true);
    expect(slot.error).toBeInstanceOf(StreamError);
    expect((slot.error as StreamError).code).toBe('slot_missing');

    const pub = classifyFailure(pgError('42704', 'publication "p" does not exist'), ctx);
    expect(pub.fatal).toBe(true);
    expect((pub.error as StreamError).code).toBe('publication_missing');

    const lost = classifyFailure(
      pgError('55000', 'can no longer get changes from replication slot "s"'),
      ctx,
    );
    expect(lost.fatal).toBe(true);
    expect(lost.error).toBeInstanceOf(SlotLostError);
    expect(lost.error.message).toContain('full resync');

    expect(classifyFailure(pgError('28P01', 'password authentication failed'), ctx).fatal).toBe(
      true,
    );
    expect(classifyFailure(pgError('0A000', 'proto_version not supported'), ctx).fatal).toBe(true);
    expect(
      classifyFailure(new SlotError('s', 'gone', { code: 'slot_missing' }), ctx).error,
    ).toBeInstanceOf(StreamError);

    let decodeError: unknown;
    try {
      new PgoutputDecoder().decode(new Uint8Array([0x5a]));
    } catch (e) {
      decodeError = e;
    }
    expect(decodeError).toBeInstanceOf(PgoutputDecodeError);
    const proto = classifyFailure(decodeError, ctx);
    expect(proto.fatal).toBe(true);
    expect((proto.error as StreamError).code).toBe('protocol_error');
  });

  test('connection loss, restarts, a busy slot and spill failures are retried', () => {
    const busy = classifyFailure(
      pgError('55006', 'replication slot "s" is active for PID 4242'),
      ctx,
    );
    expect(busy.fatal).toBe(false);
    expect(busy.error).toBeInstanceOf(SlotInUseError);
    expect((busy.error as SlotInUseError).activePid).toBe(4242);

    expect(
      classifyFailure(pgError('57P01', 'terminating connection due to administrator command'), ctx)
        .fatal,
    ).toBe(false);
    expect(classifyFailure(pgError('57P03', 'the database system is starting up'), ctx).fatal).toBe(
      false,
    );
    const reset = classifyFailure(
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      ctx,
    );
    expect(reset.fatal).toBe(false);
    expect(reset.error).toBeInstanceOf(ConnectionError);
    expect(classifyFailure(new Error('Connection terminated unexpectedly'), ctx).fatal).toBe(false);
    const spill = classifyFailure(new SpillIoError('disk full'), ctx);
    expect(spill.fatal).toBe(false);
    expect((spill.error as StreamError).code).toBe('spill_error');
  });
});
