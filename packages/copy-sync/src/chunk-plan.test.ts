import { describe, expect, it } from 'vitest';
import { chunkCount, chunkPredicate } from './chunk-plan.js';

describe('chunk plan', () => {
  it('splits by pages on 14+, one chunk before', () => {
    expect(chunkCount(0, 100, 17)).toBe(1);
    expect(chunkCount(100, 100, 14)).toBe(1);
    expect(chunkCount(101, 100, 14)).toBe(2);
    expect(chunkCount(10_000, 100, 13)).toBe(1);
  });
  it('covers [0, infinity) without overlap: the first is open below, the last open above', () => {
    expect(chunkPredicate(0, 1, 10)).toBe('');
    expect(chunkPredicate(0, 3, 10)).toBe("ctid < '(10,0)'::tid");
    expect(chunkPredicate(1, 3, 10)).toBe("ctid >= '(10,0)'::tid AND ctid < '(20,0)'::tid");
    expect(chunkPredicate(2, 3, 10)).toBe("ctid >= '(20,0)'::tid");
  });
});
