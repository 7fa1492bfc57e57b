import { describe, expect, test } from 'vitest';
import { messageOf, sqlstateOf } from './error-info.js';

describe('sqlstateOf', () => {
  test.each([
    [{ code: '23505' }, '23505'],
    [{ code: '57P01' }, '57P01'],
    [Object.assign(new Error('x'), { code: '40P01' }), '40P01'],
    [{ code: 'ECONNREFUSED' }, undefined],
    [{ code: '2350' }, undefined],
    [{ code: 23505 }, undefined],
    [new Error('plain'), undefined],
    ['23505', undefined],
    [null, undefined],
    [undefined, undefined],
  ])('%j -> %s', (e, state) => {
    expect(sqlstateOf(e)).toBe(state);
  });
});

describe('messageOf', () => {
  test('reads an Error message and stringifies anything else', () => {
    expect(messageOf(new TypeError('bad'))).toBe('bad');
    expect(messageOf('text')).toBe('text');
    expect(messageOf(42)).toBe('42');
    expect(messageOf(undefined)).toBe('undefined');
  });
});
