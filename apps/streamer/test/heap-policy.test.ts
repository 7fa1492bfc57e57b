import { describe, expect, test } from 'vitest';
import { applyHeapPolicy, DEFAULT_HEAP_GROWING_PERCENT } from '../src/runtime/heap-policy.js';

describe('heap policy', () => {
  test('applied by default', () => {
    expect(applyHeapPolicy(undefined, [], undefined)).toBe(DEFAULT_HEAP_GROWING_PERCENT);
  });
  test.each([
    [['--max-old-space-size=256'], undefined],
    [[], '--max-old-space-size=256'],
    [[], '--inspect --heap-growing-percent=50'],
    [['--max_old_space_size=256'], undefined],
  ])('the user own heap flags win (argv %j, NODE_OPTIONS %s)', (argv, env) => {
    expect(applyHeapPolicy(20, argv, env)).toBeUndefined();
  });
});
