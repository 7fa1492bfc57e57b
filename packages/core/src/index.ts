export { Backoff, type BackoffOptions, backoffMs, sleep } from './backoff.js';
export { connectHint, libpqUrl, withoutClientParams } from './connection-url.js';
export { messageOf, sqlstateOf } from './error-info.js';
export {
  type Link,
  linkTables,
  loadForeignKeys,
  NO_LINKS,
  type TableLinks,
} from './foreign-keys.js';
export { displayIdent, quoteIdent, quoteLiteral } from './identifiers.js';
export {
  isLeaseLost,
  LEASE_LOST_SQLSTATE,
  type LeaseFence,
  leaseCheckSql,
} from './lease-fence.js';
export { type Logger, noopLogger } from './logger.js';
export { formatLsn, LsnError, parseLsn } from './lsn.js';
export {
  ensureMetadataSchema,
  METADATA_VERSION,
  MetadataSchemaError,
  type SqlClient,
} from './metadata-schema.js';
export { redactPasswords } from './redact.js';
export {
  displayName,
  qualifiedName,
  sameTable,
  type TableRef,
  tableKey,
} from './table-ref.js';
