import { ReplicationError } from './errors.js';

/** PostgreSQL's identifier limit (NAMEDATALEN - 1). */
export const MAX_OBJECT_NAME_BYTES = 63;

/**
 * The slot and publication name of one source connection, as the Go
 * kuvasz-streamer names them: `kuvasz_<database>_<sid>`, lower-cased, every
 * character outside `[a-z0-9_]` replaced by `_` (one `_` per code point). The
 * result is ASCII, so bytes equal characters.
 *
 * Longer than 63 bytes: cut to the first 63. The Go original sent these
 * names unquoted, and PostgreSQL cut both the slot and the publication name
 * to 63 bytes, so cutting the same way keeps its long-named slots possible to
 * take over. The price: two sources of one server whose names differ only
 * after byte 63 would share a name; the app checks configured names for
 * duplicates per server.
 */
export function kuvaszObjectName(database: string, sid: string): string {
  if (database.length === 0) {
    throw new ReplicationError(
      'invalid_argument',
      'kuvaszObjectName: database is empty; pass the configured source database name',
    );
  }
  const full = `kuvasz_${database}_${sid}`.toLowerCase().replace(/[^a-z0-9_]/gu, '_');
  return full.slice(0, MAX_OBJECT_NAME_BYTES);
}

/** Slot names PostgreSQL accepts: lower-case letters, digits, underscores; 1-63 bytes. */
export function isValidSlotName(name: string): boolean {
  return /^[a-z0-9_]{1,63}$/.test(name);
}

export function assertValidSlotName(name: string): void {
  if (!isValidSlotName(name)) {
    throw new ReplicationError(
      'invalid_argument',
      `replication slot name ${JSON.stringify(name)} is invalid: PostgreSQL accepts only lower-case letters, digits and underscores, 1 to 63 characters (use kuvaszObjectName())`,
    );
  }
}

/** Publication names are identifiers: 1-63 bytes, anything else is quoted. */
export function assertValidPublicationName(name: string): void {
  if (name.length === 0 || Buffer.byteLength(name) > MAX_OBJECT_NAME_BYTES || name.includes('\0')) {
    throw new ReplicationError(
      'invalid_argument',
      `publication name ${JSON.stringify(name)} is invalid: it must be 1 to 63 bytes without NUL (use kuvaszObjectName())`,
    );
  }
}
