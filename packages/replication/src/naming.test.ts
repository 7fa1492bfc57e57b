import { describe, expect, test } from 'vitest';
import { ReplicationError } from './errors.js';
import { isValidSlotName, kuvaszObjectName } from './naming.js';

describe('kuvaszObjectName', () => {
  test('follows the Go original: kuvasz_<database>_<sid>, lower-cased', () => {
    expect(kuvaszObjectName('orders', '1')).toBe('kuvasz_orders_1');
    expect(kuvaszObjectName('Orders', 'Tenant1')).toBe('kuvasz_orders_tenant1');
  });

  test('replaces every character outside [a-z0-9_] by one underscore per code point', () => {
    expect(kuvaszObjectName('my-db', 'eu.west')).toBe('kuvasz_my_db_eu_west');
    expect(kuvaszObjectName('a b"c', 'x;y')).toBe('kuvasz_a_b_c_x_y');
    expect(kuvaszObjectName('café', '😀')).toBe('kuvasz_caf___');
  });

  test('cuts names longer than 63 bytes the way PostgreSQL cut the original names', () => {
    const db = 'd'.repeat(80);
    const name = kuvaszObjectName(db, 'sid');
    expect(name).toHaveLength(63);
    expect(name).toBe(`kuvasz_${'d'.repeat(56)}`);
    expect(isValidSlotName(name)).toBe(true);
  });

  test('every result is a valid slot name', () => {
    for (const [db, sid] of [
      ['X', ''],
      ['Ünïcödé', 'Ω'],
      ['1', '2'],
    ] as const) {
      expect(isValidSlotName(kuvaszObjectName(db, sid))).toBe(true);
    }
  });

  test('an empty database name is a typed error', () => {
    expect(() => kuvaszObjectName('', '1')).toThrow(ReplicationError);
  });
});

describe('isValidSlotName', () => {
  test('accepts what PostgreSQL accepts', () => {
    expect(isValidSlotName('kuvasz_a_1')).toBe(true);
    expect(isValidSlotName('A')).toBe(false);
    expect(isValidSlotName('a-b')).toBe(false);
    expect(isValidSlotName('')).toBe(false);
    expect(isValidSlotName('a'.repeat(64))).toBe(false);
  });
});
