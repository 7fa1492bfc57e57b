import pg from 'pg';
import { PgCluster, serverMajor } from './cluster.js';
import { TestkitError } from './errors.js';

/**
 * A server someone else runs (a CI service container, a local install), given
 * as `KUVASZ_PG_URL_<MAJOR>`. The kit never stops it; it only drops the
 * databases and slots its tests created.
 */
export async function startExternal(
  version: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<PgCluster> {
  const name = `KUVASZ_PG_URL_${version}`;
  const raw = env[name];
  if (!raw) {
    throw new TestkitError(
      'backend_unavailable',
      `KUVASZ_PG_BACKEND=external needs ${name}=postgres://user:password@host:port/postgres for PostgreSQL ${version}`,
    );
  }
  const url = new URL(raw);
  const major = await serverMajor(raw);
  if (major !== version) {
    throw new TestkitError(
      'unsupported_version',
      `${name} points at PostgreSQL ${major}, not ${version}`,
    );
  }
  const cluster: PgCluster = new PgCluster({
    backend: 'external',
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username || 'postgres'),
    password: decodeURIComponent(url.password),
    version,
    lifecycle: {
      async stop() {
        for (const db of cluster.databases) {
          await cluster.dropSlots(db);
          await cluster.sql(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(db)} WITH (FORCE)`);
        }
      },
      async restart() {
        throw new TestkitError(
          'backend_unavailable',
          'the external backend cannot restart its server',
        );
      },
    },
  });
  return cluster;
}
