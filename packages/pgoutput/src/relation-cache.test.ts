import { describe, expect, test } from 'vitest';
import { PgoutputRelationError } from './errors.js';
import { type RelationMessage, UNCHANGED_TOAST } from './messages.js';
import { RelationCache } from './relation-cache.js';
import { defaultTypeParsers } from './type-parsers.js';

const rel: RelationMessage = {
  tag: 'relation',
  xid: undefined,
  relationOid: 4294967295,
  schema: 'public',
  name: 'Order',
  replicaIdentity: 'default',
  columns: [
    { flags: 1, isKey: true, name: 'id', typeOid: 20, typeMod: -1 },
    { flags: 0, isKey: false, name: 'note', typeOid: 25, typeMod: -1 },
    { flags: 0, isKey: false, name: 'doc', typeOid: 3802, typeMod: -1 },
    { flags: 0, isKey: false, name: '__proto__', typeOid: 23, typeMod: -1 },
    { flags: 0, isKey: false, name: 'raw', typeOid: 17, typeMod: -1 },
  ],
};

describe('RelationCache', () => {
  test('set / get / require / size / reset', () => {
    const cache = new RelationCache();
    expect(cache.size).toBe(0);
    cache.set(rel);
    expect(cache.get(4294967295)).toBe(rel);
    expect(cache.require(4294967295)).toBe(rel);
    expect(cache.has(1)).toBe(false);
    const newer = { ...rel, name: 'Order2' };
    cache.set(newer);
    expect(cache.size).toBe(1);
    expect(cache.get(rel.relationOid)).toBe(newer);
    cache.reset();
    expect(cache.size).toBe(0);
    expect(() => cache.require(16384)).toThrow(PgoutputRelationError);
    try {
      cache.require(16384);
    } catch (err) {
      expect(err).toMatchObject({ code: 'unknown_relation', relationOid: 16384 });
      expect((err as Error).message).toContain('relation OID 16384');
    }
  });

  test('toRecord keeps raw text by default, NULL and unchanged TOAST distinct', () => {
    const cache = new RelationCache();
    const row = cache.toRecord(rel, [
      '9007199254740993',
      null,
      UNCHANGED_TOAST,
      '5',
      new Uint8Array([1]),
    ]);
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(row, '__proto__')?.value).toBe('5');
    expect({ ...row }).toEqual({
      id: '9007199254740993',
      note: null,
      doc: UNCHANGED_TOAST,
      ['__proto__']: '5',
      raw: new Uint8Array([1]),
    });
    expect(Object.keys(row)).toEqual(['id', 'note', 'doc', '__proto__', 'raw']);
  });

  test('toRecord with parsers converts text only', () => {
    const cache = new RelationCache();
    const row = cache.toRecord(
      rel,
      ['9007199254740993', 'n', '{"a":1}', '5', '\\x01'],
      defaultTypeParsers,
    );
    expect({ ...row }).toEqual({
      id: 9007199254740993n,
      note: 'n',
      doc: { a: 1 },
      ['__proto__']: 5,
      raw: new Uint8Array([1]),
    });
    expect(cache.toKeyRecord(rel, ['7', null, null, null, null], defaultTypeParsers)).toEqual({
      id: 7n,
    });
  });

  test('a parser failure names the column and type, never the value', () => {
    const cache = new RelationCache();
    try {
      cache.toRecord(rel, ['1', null, '{secret-value', null, null], defaultTypeParsers);
      throw new Error('no error');
    } catch (err) {
      expect(err).toBeInstanceOf(PgoutputRelationError);
      expect(err).toMatchObject({
        code: 'invalid_value',
        relationOid: rel.relationOid,
        column: 'doc',
      });
      expect((err as Error).message).toContain('column doc of public.Order (type OID 3802)');
      expect((err as Error).message).not.toContain('secret');
      expect((err as Error).cause).toBeInstanceOf(SyntaxError);
    }
  });

  test('a tuple of the wrong width is a stale relation', () => {
    const cache = new RelationCache();
    expect(() => cache.toRecord(rel, ['1'])).toThrow(
      /tuple has 1 columns but relation public.Order/,
    );
  });
});
