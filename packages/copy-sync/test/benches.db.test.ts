/** The initial-sync bench runs to its table at a tiny size (timings are its business, not a test's). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBench } from '@kuvasz/testkit';
import { expect, test } from 'vitest';

const PACKAGE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

test('the sync bench runs to its table', async () => {
  const stdout = await runBench(PACKAGE, undefined, {
    KUVASZ_BENCH_SCALE: '1',
    KUVASZ_BENCH_WIDE_ROWS: '500',
    KUVASZ_BENCH_RUNS: '1',
  });
  expect(stdout).toMatch(/^\| 1 \| pg_dump → psql \|/m);
  expect(stdout).toMatch(/^\| 1 \| CopySync \(readers \d+, tables \d+\) \|/m);
  expect(stdout).toMatch(/^median ratio [\d.]+x/m);
}, 180_000);
