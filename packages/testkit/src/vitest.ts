import { afterAll, afterEach, beforeAll } from 'vitest';
import type { PgCluster } from './cluster.js';
import { type StartPostgresOptions, startPostgres } from './start-postgres.js';

export interface UseClusterOptions extends StartPostgresOptions {
  /** After each test, fail it if a replication slot is still active (default true). */
  checkSlots?: boolean;
}

/**
 * One cluster per test file: started before the first test, stopped (and its
 * data removed) after the last, even when tests fail. Call `get()` inside
 * tests and hooks.
 */
export function useCluster(options: UseClusterOptions = {}): { get(): PgCluster } {
  let cluster: PgCluster | undefined;
  beforeAll(async () => {
    cluster = await startPostgres(options);
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  if (options.checkSlots !== false) {
    afterEach(async () => {
      await cluster?.assertNoLeakedSlots();
    });
  }
  return {
    get() {
      if (!cluster)
        throw new Error(
          'useCluster().get() called before the cluster started (use it inside a test or hook)',
        );
      return cluster;
    },
  };
}
