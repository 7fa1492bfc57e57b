import { describe, expect, test } from 'vitest';
import { connectHint, libpqUrl, withoutClientParams } from './connection-url.js';

describe('libpqUrl', () => {
  test.each([
    ['no parameters', 'postgres://u:p@h/db', 'postgres://u:p@h/db'],
    [
      'no TLS parameter',
      'postgres://u@h/db?application_name=x',
      'postgres://u@h/db?application_name=x',
    ],
    [
      'require',
      'postgres://u@h/db?sslmode=require',
      'postgres://u@h/db?sslmode=require&uselibpqcompat=true',
    ],
    [
      'verify-full with a CA, other parameters kept',
      'postgresql://u@h:5433/db?application_name=a&sslmode=verify-full&sslrootcert=/etc/ca.pem',
      'postgresql://u@h:5433/db?application_name=a&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&uselibpqcompat=true',
    ],
    [
      'a client certificate alone',
      'postgres://c@h/db?sslcert=a.crt&sslkey=a.key',
      'postgres://c@h/db?sslcert=a.crt&sslkey=a.key&uselibpqcompat=true',
    ],
    [
      'allow cannot retry: plain',
      'postgres://u@h/db?sslmode=allow',
      'postgres://u@h/db?sslmode=disable&uselibpqcompat=true',
    ],
    [
      'already set: unchanged',
      'postgres://u@h/db?sslmode=require&uselibpqcompat=true',
      'postgres://u@h/db?sslmode=require&uselibpqcompat=true',
    ],
    ['key/value conninfo: unchanged', 'host=h sslmode=require', 'host=h sslmode=require'],
  ])('%s', (_name, url, expected) => {
    expect(libpqUrl(url)).toBe(expected);
  });
});

describe('connectHint', () => {
  test.each([
    [{ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, /sslrootcert=.*sslmode=require/],
    [{ code: 'SELF_SIGNED_CERT_IN_CHAIN' }, /not signed by a CA this client trusts/],
    [{ code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, /verify-ca/],
    [{ code: '28P01' }, /password/],
    [{ code: 'ECONNREFUSED' }, /listening/],
    [new Error('The server does not support SSL connections'), /sslmode=disable/],
  ])('%o', (e, hint) => {
    expect(connectHint(e)).toMatch(hint);
  });
  test('nothing useful known: undefined', () => {
    expect(connectHint(new Error('boom'))).toBeUndefined();
    expect(connectHint('x')).toBeUndefined();
  });
});

describe('withoutClientParams', () => {
  test.each([
    ['no parameters', 'postgres://u:p@h/db', 'postgres://u:p@h/db', []],
    [
      "the original's map URL",
      'postgres://kuvasz:kuvasz@127.0.0.1:6012/db1?replication=database&application_name=repl_db1',
      'postgres://kuvasz:kuvasz@127.0.0.1:6012/db1?application_name=repl_db1',
      ['replication=database'],
    ],
    [
      'any value, anywhere, other parameters kept as written',
      'postgresql://u@h/db?sslrootcert=%2Fetc%2Fca.pem&replication=true&application_name=a%20b#x',
      'postgresql://u@h/db?sslrootcert=%2Fetc%2Fca.pem&application_name=a%20b#x',
      ['replication=true'],
    ],
    [
      'the only parameter',
      'postgres://u@h/db?replication=database',
      'postgres://u@h/db',
      ['replication=database'],
    ],
    ['without a value', 'postgres://u@h/db?replication', 'postgres://u@h/db', ['replication=']],
    [
      'a lookalike is kept',
      'postgres://u@h/db?replication_x=1',
      'postgres://u@h/db?replication_x=1',
      [],
    ],
    ['not a URL', 'host=h replication=database', 'host=h replication=database', []],
  ])('%s', (_name, input, url, removed) => {
    expect(withoutClientParams(input)).toEqual({ url, removed });
  });
});
