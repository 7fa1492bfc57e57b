/**
 * Every bench of this package runs to its table at a tiny size. Timings are
 * not checked (they are the benches' business); a bench that hangs, throws
 * or prints nothing is caught here instead of in the next performance
 * session (the main bench once waited forever for an end-of-phase marker
 * that had become a wire update).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBench } from '@kuvasz/testkit';
import { describe, expect, test } from 'vitest';

const PACKAGE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TINY_FORMS = {
  KUVASZ_BENCH_ROWS: '200',
  KUVASZ_BENCH_TABLE: '2000',
  KUVASZ_BENCH_REPS: '1',
  KUVASZ_BENCH_VERSIONS: '17',
};

describe('benches at a tiny size', () => {
  test.each<[string, Record<string, string>, RegExp[]]>([
    [
      'bench',
      { KUVASZ_BENCH_CHANGES: '3000' },
      [/^insert\s+1,500 \|\s+[\d,]+ \|/m, /^all\s+3,000 \|/m, /^mix\s+\|\s+[\d.]+\s+[\d.]+ \|/m],
    ],
    [
      'small-groups',
      { KUVASZ_BENCH_SECONDS: '1', KUVASZ_BENCH_RATE: '200' },
      [/^plain statements.*p50\s+[\d.]+ ms/m, /^engine \(workers 4\)\s+p50\s+[\d.]+ ms/m],
    ],
    [
      'engine-only',
      { KUVASZ_BENCH_CHANGES: '3000' },
      [/^insert: 3000 changes in/m, /^update: 3000 changes in/m],
    ],
    ['trickle', { KUVASZ_BENCH_SECONDS: '1' }, [/push to durable p50 [\d.]+ ms/]],
    ['statement-forms', TINY_FORMS, [/delete unnest\s+[\d,]+/]],
    ['history-forms', TINY_FORMS, [/versions only: update unnest\s+[\d,]+/]],
  ])(
    '%s',
    async (name, env, expected) => {
      const stdout = await runBench(PACKAGE, name, env);
      for (const re of expected) expect(stdout).toMatch(re);
    },
    180_000,
  );
});
