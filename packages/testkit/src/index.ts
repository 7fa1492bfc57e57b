export {
  type Backend,
  type ClusterInit,
  type ClusterLifecycle,
  DEFAULT_SETTINGS,
  PgCluster,
  type ServerSettings,
  type SlotInfo,
} from './cluster.js';
export { TestkitError, type TestkitErrorCode } from './errors.js';
export { reapOrphanClusters } from './registry.js';
export { runBench } from './run-bench.js';
export { type StartPostgresOptions, startPostgres } from './start-postgres.js';
export type { TlsFiles } from './tls.js';
export {
  isSupportedVersion,
  type PgMajor,
  SUPPORTED_VERSIONS,
  testedVersions,
} from './versions.js';
export { type WaitForOptions, waitFor } from './wait-for.js';
