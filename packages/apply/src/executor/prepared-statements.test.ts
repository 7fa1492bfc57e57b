import { describe, expect, test } from 'vitest';
import { PreparedStatements } from './prepared-statements.js';

describe('PreparedStatements', () => {
  test('a text is parsed once, then run by name', () => {
    const p = new PreparedStatements(4, 1000, () => 0);
    const first = p.use('SELECT $1::int');
    expect(first).toMatchObject({ parse: true, close: false });
    p.confirm();
    expect(p.use('SELECT $1::int')).toEqual({ name: first.name, parse: false, close: false });
  });

  test('after a failed pipeline the name is closed and parsed again', () => {
    const p = new PreparedStatements(4, 1000, () => 0);
    const { name } = p.use('SELECT 1');
    p.fail();
    expect(p.use('SELECT 1')).toEqual({ name, parse: true, close: true });
    p.confirm();
    expect(p.use('SELECT 1')).toEqual({ name, parse: false, close: false });
  });

  test('an old statement is planned again under a new name, the old one closed', () => {
    let now = 0;
    const p = new PreparedStatements(4, 1000, () => now);
    const { name } = p.use('SELECT 1');
    p.confirm();
    now = 1000;
    expect(p.use('SELECT 1').parse).toBe(false);
    now = 1001;
    const again = p.use('SELECT 1');
    expect(again).toMatchObject({ parse: true, close: false });
    expect(again.name).not.toBe(name);
    expect(p.takeEvicted()).toEqual([name]);
    expect(p.size).toBe(1);
  });

  test('past its capacity the least recently used name is closed', () => {
    const p = new PreparedStatements(2, 1000, () => 0);
    const a = p.use('a').name;
    p.use('b');
    p.use('a');
    const bName = p.use('b').name;
    p.use('c');
    expect(p.takeEvicted()).toEqual([a]);
    expect(p.size).toBe(2);
    expect(p.use('b')).toEqual({ name: bName, parse: false, close: false });
  });
});
