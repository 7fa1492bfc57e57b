import { describe, expect, test } from 'vitest';
import { StreamError } from '../errors.js';
import { chooseProtocol, startReplicationCommand } from './protocol.js';

const auto = { protoVersion: 'auto' as const, binary: false, messages: true, streaming: true };

describe('chooseProtocol', () => {
  test('auto picks the highest protocol that fits a single consumer', () => {
    expect(chooseProtocol(12, auto, 's')).toEqual({
      protoVersion: 1,
      streaming: 'off',
      messages: false,
      binary: false,
    });
    expect(chooseProtocol(13, auto, 's').protoVersion).toBe(1);
    expect(chooseProtocol(14, auto, 's')).toEqual({
      protoVersion: 2,
      streaming: 'on',
      messages: true,
      binary: false,
    });
    expect(chooseProtocol(15, auto, 's').protoVersion).toBe(2);
    expect(chooseProtocol(16, auto, 's')).toMatchObject({ protoVersion: 4, streaming: 'on' });
    expect(chooseProtocol(18, auto, 's').protoVersion).toBe(4);
  });

  test('explicit versions are checked against the server', () => {
    expect(chooseProtocol(17, { ...auto, protoVersion: 2 }, 's').protoVersion).toBe(2);
    expect(chooseProtocol(17, { ...auto, protoVersion: 1 }, 's').streaming).toBe('off');
    expect(() => chooseProtocol(14, { ...auto, protoVersion: 4 }, 's')).toThrow(
      /needs PostgreSQL 16/,
    );
    expect(() => chooseProtocol(14, { ...auto, protoVersion: 7 as 1 }, 's')).toThrow(StreamError);
    expect(() => chooseProtocol(13, { ...auto, binary: true }, 's')).toThrow(/binary mode/);
    expect(chooseProtocol(17, { ...auto, streaming: false }, 's').streaming).toBe('off');
  });
});

describe('startReplicationCommand', () => {
  test('quotes the publication as an identifier inside a literal', () => {
    const p = chooseProtocol(17, { ...auto, binary: true }, 's');
    expect(startReplicationCommand('kuvasz_db_1', 0x1_0000_00a0n, `Pub "x" 'y'`, p)).toBe(
      `START_REPLICATION SLOT "kuvasz_db_1" LOGICAL 1/A0 (proto_version '4', publication_names '"Pub ""x"" ''y''"', messages 'true', binary 'true', streaming 'on')`,
    );
    const v1 = chooseProtocol(12, auto, 's');
    expect(startReplicationCommand('s', 0n, 'p', v1)).toBe(
      `START_REPLICATION SLOT "s" LOGICAL 0/0 (proto_version '1', publication_names '"p"')`,
    );
  });
});
