import { createRequire } from 'node:module';
import path from 'node:path';
import { TestkitError } from './errors.js';

/** Majors whose binaries the kit installs (npm aliases `pg-binaries-<major>`). */
export const SUPPORTED_VERSIONS = [12, 14, 15, 17, 18] as const;
export type PgMajor = (typeof SUPPORTED_VERSIONS)[number];

/** The majors every database test runs against unless `KUVASZ_PG_VERSIONS` says otherwise. */
const DEFAULT_TESTED: readonly PgMajor[] = [14, 17];

export function isSupportedVersion(v: number): v is PgMajor {
  return (SUPPORTED_VERSIONS as readonly number[]).includes(v);
}

export function assertSupportedVersion(v: number): PgMajor {
  if (!isSupportedVersion(v)) {
    throw new TestkitError(
      'unsupported_version',
      `PostgreSQL ${v} is not installed by @kuvasz/testkit; use one of ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  }
  return v;
}

/**
 * The versions a test suite iterates over: `KUVASZ_PG_VERSIONS=14,17,18` to
 * widen or narrow the matrix without editing tests.
 */
export function testedVersions(env: NodeJS.ProcessEnv = process.env): PgMajor[] {
  const raw = env.KUVASZ_PG_VERSIONS;
  if (!raw) return [...DEFAULT_TESTED];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => assertSupportedVersion(Number(s)));
}

/** Absolute path of the `native/` folder (bin, lib, share) for a major version. */
export function embeddedBinariesDir(version: PgMajor): string {
  const require = createRequire(import.meta.url);
  const alias = `pg-binaries-${version}`;
  let entry: string;
  try {
    entry = require.resolve(alias);
  } catch (err: unknown) {
    throw new TestkitError(
      'binaries_missing',
      `PostgreSQL ${version} binaries (npm alias ${alias}) are not installed; run pnpm install`,
      { cause: err },
    );
  }
  // The package's entry is dist/index.js beside native/.
  return path.resolve(path.dirname(entry), '..', 'native');
}
