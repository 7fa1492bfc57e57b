import { describe, expect, test } from 'vitest';
import { redactUrl } from './redact.js';

describe('redactUrl', () => {
  test('replaces the password of a URL', () => {
    expect(redactUrl('postgres://user:s3cret@db:5432/app')).toBe('postgres://user:***@db:5432/app');
    expect(redactUrl('postgresql://u:p%40ss@h/d?sslmode=require')).toBe(
      'postgresql://u:***@h/d?sslmode=require',
    );
  });

  test('an unescaped @ in the password leaves nothing of it visible', () => {
    const out = redactUrl('postgres://u:pa@ss@host/db');
    expect(out).toBe('postgres://u:***@host/db');
    expect(out).not.toContain('pa');
  });

  test('keeps URLs without a password as they are', () => {
    expect(redactUrl('postgres://user@db/app')).toBe('postgres://user@db/app');
    expect(redactUrl('postgres://db/app')).toBe('postgres://db/app');
  });

  test('query parameters and key/value conninfo', () => {
    expect(redactUrl('postgres://u@h/d?password=abc&sslmode=disable')).toBe(
      'postgres://u@h/d?password=***&sslmode=disable',
    );
    expect(redactUrl("host=h user=u password='a b\\'c' dbname=d")).toBe(
      'host=h user=u password=*** dbname=d',
    );
    expect(redactUrl('host=h password=xyz sslpassword=k')).toBe(
      'host=h password=*** sslpassword=***',
    );
    expect(redactUrl('host=h PASSWORD = xyz')).toBe('host=h PASSWORD = ***');
  });

  test('redacts URLs embedded in a message', () => {
    expect(redactUrl('cannot connect to postgres://a:b@h/d: refused')).toBe(
      'cannot connect to postgres://a:***@h/d: refused',
    );
  });
});
