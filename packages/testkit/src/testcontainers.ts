import { DEFAULT_SETTINGS, PgCluster, type ServerSettings, settingsToFlags } from './cluster.js';
import { TestkitError } from './errors.js';

/**
 * The official `postgres:<major>` image through testcontainers, for developers
 * with a Docker engine. Loaded lazily: the package is an optional dependency.
 */
export async function startContainer(
  version: number,
  settings: ServerSettings = {},
): Promise<PgCluster> {
  let mod: typeof import('@testcontainers/postgresql');
  try {
    mod = await import('@testcontainers/postgresql');
  } catch (err: unknown) {
    throw new TestkitError(
      'backend_unavailable',
      'KUVASZ_PG_BACKEND=testcontainers needs the optional dependency @testcontainers/postgresql; run pnpm install',
      { cause: err },
    );
  }
  const password = 'kvsz-container-pw';
  const flags = settingsToFlags({ ...DEFAULT_SETTINGS, ...settings });
  let started: Awaited<ReturnType<InstanceType<typeof mod.PostgreSqlContainer>['start']>>;
  try {
    started = await new mod.PostgreSqlContainer(`postgres:${version}`)
      .withUsername('postgres')
      .withPassword(password)
      .withDatabase('postgres')
      .withCommand(['postgres', ...flags])
      .start();
  } catch (err: unknown) {
    throw new TestkitError(
      'backend_unavailable',
      `could not start a postgres:${version} container (is a Docker engine running?): ${(err as Error).message}`,
      { cause: err },
    );
  }
  return new PgCluster({
    backend: 'testcontainers',
    host: started.getHost(),
    port: started.getPort(),
    user: 'postgres',
    password,
    version,
    lifecycle: {
      async stop() {
        await started.stop();
      },
      async restart() {
        await started.restart();
      },
    },
  });
}
