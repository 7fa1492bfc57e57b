import { describe, expect, test } from 'vitest';
import { PreflightError } from './errors.js';
import { assertPreflight, checkServerVersion } from './preflight.js';

describe('checkServerVersion', () => {
  test('PostgreSQL below 12 is a problem naming the fix', () => {
    const p = checkServerVersion(110022, '11.22');
    expect(p?.code).toBe('server_version');
    expect(p?.message).toContain('11.22');
    expect(p?.message).toContain('12 or later');
    expect(checkServerVersion(90624)?.code).toBe('server_version');
  });

  test('12 and later pass', () => {
    expect(checkServerVersion(120000)).toBeUndefined();
    expect(checkServerVersion(170004)).toBeUndefined();
  });
});

describe('assertPreflight', () => {
  test('throws one PreflightError listing every problem, never for warnings only', () => {
    const problem = checkServerVersion(110000);
    if (!problem) throw new Error('expected a problem');
    const warning = { ...problem, code: 'no_replica_identity' as const, message: 'w' };
    expect(() =>
      assertPreflight({ url: 'u', serverVersion: 1, problems: [], warnings: [warning] }),
    ).not.toThrow();
    const report = {
      url: 'postgres://u:***@h/d',
      serverVersion: 110000,
      problems: [problem, { ...problem, message: 'second one' }],
      warnings: [warning],
    };
    let err: unknown;
    try {
      assertPreflight(report);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PreflightError);
    const pe = err as PreflightError;
    expect(pe.code).toBe('preflight_failed');
    expect(pe.problems).toHaveLength(2);
    expect(pe.warnings).toHaveLength(1);
    expect(pe.message).toContain('2 problems');
    expect(pe.message).toContain('second one');
    expect(pe.message).toContain('postgres://u:***@h/d');
  });
});
