import { describe, expect, test } from 'vitest';
import { redactPasswords } from './redact.js';

describe('redactPasswords', () => {
  test.each([
    // URLs
    ['postgres://user:s3cret@db:5432/app', 'postgres://user:***@db:5432/app'],
    ['postgresql://user:s3cret@db/app', 'postgresql://user:***@db/app'],
    ['POSTGRES://user:s3cret@db/app', 'POSTGRES://user:***@db/app'],
    ['postgres://:s3cret@db/app', 'postgres://:***@db/app'],
    ['postgres://u:pw@h', 'postgres://u:***@h'],
    ['postgres://u:pw@[::1]:5432/db', 'postgres://u:***@[::1]:5432/db'],
    ['postgres://u:pw@h1:5432,h2:5433/db', 'postgres://u:***@h1:5432,h2:5433/db'],
    // '@' in the password: the userinfo ends at the last '@' before the host
    ['postgres://u:p@ss@h/db', 'postgres://u:***@h/db'],
    ['postgres://u:p@s@s@h:5432/db', 'postgres://u:***@h:5432/db'],
    ['postgres://u:p@ss@h', 'postgres://u:***@h'],
    ['postgres://u:p@ss@h?sslmode=require', 'postgres://u:***@h?sslmode=require'],
    // ':' and '/' in the password
    ['postgres://u:p:w:d@h/db', 'postgres://u:***@h/db'],
    ['postgres://u:p/w@h/db', 'postgres://u:***@h/db'],
    ['postgres://u:a/b@c:d@h:5432/db', 'postgres://u:***@h:5432/db'],
    // '?' and '#' in the password
    ['postgres://u:p?ss@h/db', 'postgres://u:***@h/db'],
    ['postgres://u:p#ss@h/db?sslmode=require', 'postgres://u:***@h/db?sslmode=require'],
    // percent-encoded
    ['postgres://u:p%40ss@h:5432/db', 'postgres://u:***@h:5432/db'],
    ['postgres://u%40corp:p%3Aw%2F@h/db', 'postgres://u%40corp:***@h/db'],
    // an '@' in a query value is not the end of the userinfo
    ['postgres://u:pw@h/db?application_name=a@b', 'postgres://u:***@h/db?application_name=a@b'],
    // ambiguous: an '@' in the database name; more is redacted, not less
    ['postgres://u:pw@h/my@db', 'postgres://u:***@db'],
    // query parameters
    [
      'postgresql://u@h/db?password=x&sslmode=require',
      'postgresql://u@h/db?password=***&sslmode=require',
    ],
    [
      'postgres://u@h/db?sslmode=require&password=x',
      'postgres://u@h/db?sslmode=require&password=***',
    ],
    [
      'postgres://u@h/db?sslpassword=k&sslmode=verify-full',
      'postgres://u@h/db?sslpassword=***&sslmode=verify-full',
    ],
    ['postgres://u@h/db?password=p%40ss#frag', 'postgres://u@h/db?password=***#frag'],
    ['postgres://u:a@h/db?password=b', 'postgres://u:***@h/db?password=***'],
    // key/value conninfo
    ['host=h password=secret dbname=x', 'host=h password=*** dbname=x'],
    ["host=h password='with spaces' dbname=x", 'host=h password=*** dbname=x'],
    ["host=h password='it\\'s' dbname=x", 'host=h password=*** dbname=x'],
    ['host=h password = x dbname=d', 'host=h password = *** dbname=d'],
    ['host=h PASSWORD=x', 'host=h PASSWORD=***'],
    ['host=h PASSWORD = xyz', 'host=h PASSWORD = ***'],
    ['password=a&b@c:d/e user=u', 'password=*** user=u'],
    ['host=h password=esc\\ aped user=u', 'host=h password=*** user=u'],
    ["host=h password='unterminated", 'host=h password=***'],
    ['host=h password=xyz sslpassword=k', 'host=h password=*** sslpassword=***'],
    ['host=h password=', 'host=h password=***'],
    // embedded in longer text
    [
      'cannot connect to postgres://a:b@h/d: connection refused',
      'cannot connect to postgres://a:***@h/d: connection refused',
    ],
    [
      'source "postgres://a:p@ss@h/d" and destination postgres://c:e@k/f failed',
      'source "postgres://a:***@h/d" and destination postgres://c:***@k/f failed',
    ],
    [
      'error: connect to host=h password=pw dbname=d failed',
      'error: connect to host=h password=*** dbname=d failed',
    ],
    // inside JSON (a log line) and angle brackets: the URL ends at the quote
    [
      '{"url":"postgres://u:pw@h/db","source":{"url":"postgres://a:p@ss@h/x"},"msg":"connecting"}',
      '{"url":"postgres://u:***@h/db","source":{"url":"postgres://a:***@h/x"},"msg":"connecting"}',
    ],
    [
      '{"url":"postgres://h:5432/db","conninfo":"host=h password=pw","q":"postgres://u@h/d?password=x"}',
      '{"url":"postgres://h:5432/db","conninfo":"host=h password=***","q":"postgres://u@h/d?password=***"}',
    ],
    ['{"c":"host=h password=a\\"b dbname=d"}', '{"c":"host=h password=*** dbname=d"}'],
    ['see <postgres://u:pw@h/db>', 'see <postgres://u:***@h/db>'],
    ["'postgres://u:it's@h/db'", "'postgres://u:***@h/db'"],
    // nothing to redact
    ['postgres://user@db/app', 'postgres://user@db/app'],
    ['postgres://db/app', 'postgres://db/app'],
    ['postgres://db:5432/app', 'postgres://db:5432/app'],
    ['host=h user=u dbname=d', 'host=h user=u dbname=d'],
    ['password authentication failed for user "u"', 'password authentication failed for user "u"'],
    ['mypassword=x', 'mypassword=x'],
    ['', ''],
    ['table public.orders: 10 rows', 'table public.orders: 10 rows'],
  ])('%j', (input, expected) => {
    expect(redactPasswords(input)).toBe(expected);
  });

  test('no part of a password survives', () => {
    for (const pw of ['p@ss', 'p:ss', 'p/ss', 'p%40ss', 'a@b:c/d@e', 'pä$$']) {
      const out = redactPasswords(`postgres://user:${pw}@db.example.com:5432/app`);
      expect(out).toBe('postgres://user:***@db.example.com:5432/app');
    }
  });
});
