/** The stream bench runs to its table at a tiny size (timings are its business, not a test's). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBench } from '@kuvasz/testkit';
import { expect, test } from 'vitest';

const PACKAGE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

test('the stream bench runs to its table', async () => {
  const stdout = await runBench(PACKAGE, undefined, { KUVASZ_BENCH_ROWS: '3000' });
  expect(stdout).toMatch(/^One large transaction: 3,000 rows/m);
  expect(stdout).toMatch(/ours \(decode \+ parts \+ ack\)\s+[\d,]+ rows\/s/);
  expect(stdout).toMatch(/pg_recvlogical \(no decoding\)\s+[\d,]+ rows\/s/);
}, 180_000);
