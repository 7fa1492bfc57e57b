import { expect, test } from 'vitest';
import { TestkitError } from './errors.js';
import { testedVersions } from './versions.js';
import { waitFor } from './wait-for.js';

test('waitFor returns the first truthy value', async () => {
  let n = 0;
  const v = await waitFor(() => (++n >= 3 ? `done after ${n}` : ''), {
    timeoutMs: 2000,
    intervalMs: 1,
  });
  expect(v).toBe('done after 3');
});

test('waitFor treats a throwing predicate as not ready, and reports its last error on timeout', async () => {
  const err = await waitFor(
    () => {
      throw new Error('connection refused');
    },
    { timeoutMs: 50, intervalMs: 5, message: 'the server' },
  ).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TestkitError);
  expect((err as TestkitError).code).toBe('timeout');
  expect((err as Error).message).toMatch(/waiting for the server; last error: connection refused/);
});

test('testedVersions reads KUVASZ_PG_VERSIONS and rejects unknown majors', () => {
  expect(testedVersions({})).toEqual([14, 17]);
  expect(testedVersions({ KUVASZ_PG_VERSIONS: '12, 18' })).toEqual([12, 18]);
  expect(() => testedVersions({ KUVASZ_PG_VERSIONS: '11' })).toThrow(
    /not installed by @kuvasz\/testkit/,
  );
});
