/**
 * Every error this package throws across its boundary is a `ReplicationError`
 * (or a subclass) with a stable `code`. Messages name the object and the fix,
 * and never contain a password: URLs go through `redactPasswords` of
 * `@kuvasz/core` first.
 */

export type ReplicationErrorCode =
  | 'invalid_argument'
  | 'connection_failed'
  | 'query_failed'
  | 'preflight_failed'
  | 'publication_error'
  | 'table_missing'
  | 'slot_error'
  | 'slot_exists'
  | 'slot_missing'
  | 'slot_lost'
  | 'slot_in_use'
  | 'publication_missing'
  | 'protocol_error'
  | 'spill_error'
  | 'stream_error';

export interface ReplicationErrorOptions {
  cause?: unknown;
  /** SQLSTATE of the server error behind this one, when there is one. */
  sqlstate?: string | undefined;
}

export class ReplicationError extends Error {
  override name = 'ReplicationError';
  readonly code: ReplicationErrorCode;
  readonly sqlstate: string | undefined;

  constructor(code: ReplicationErrorCode, message: string, options: ReplicationErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.sqlstate = options.sqlstate;
  }
}

/** The server could not be reached, refused the login, or the connection broke. */
export class ConnectionError extends ReplicationError {
  override name = 'ConnectionError';
  /** The connection string with its password replaced by `***`. */
  readonly url: string;

  constructor(url: string, message: string, options: ReplicationErrorOptions = {}) {
    super('connection_failed', message, options);
    this.url = url;
  }
}

export type PreflightProblemCode =
  | 'server_version'
  | 'wal_level'
  | 'no_free_replication_slot'
  | 'replication_slots_low'
  | 'no_free_wal_sender'
  | 'wal_senders_low'
  | 'replication_role'
  | 'replication_connection'
  | 'cannot_create_publication'
  | 'publication_not_owned'
  | 'publication_all_tables'
  | 'table_missing'
  | 'table_not_publishable'
  | 'table_not_owned'
  | 'table_not_readable'
  | 'no_replica_identity'
  | 'invalid_slot_name'
  | 'slot_lost'
  | 'slot_active'
  | 'slot_wrong_plugin'
  | 'slot_other_database';

/** One finding of `preflight()`: a problem blocks streaming, a warning does not. */
export interface PreflightProblem {
  code: PreflightProblemCode;
  /** States the fact and the fix, e.g. the setting and the SQL to run. */
  message: string;
  /** Machine-readable details (setting values, table names, counts). */
  context: Record<string, unknown>;
}

/** `assertPreflight` found problems; each is listed in `problems` and in the message. */
export class PreflightError extends ReplicationError {
  override name = 'PreflightError';
  readonly url: string;
  readonly problems: PreflightProblem[];
  readonly warnings: PreflightProblem[];

  constructor(url: string, problems: PreflightProblem[], warnings: PreflightProblem[]) {
    const list = problems.map((p, i) => `  ${i + 1}. [${p.code}] ${p.message}`).join('\n');
    super(
      'preflight_failed',
      `source ${url} is not ready for logical replication (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${list}`,
    );
    this.url = url;
    this.problems = problems;
    this.warnings = warnings;
  }
}

/** Creating or altering the publication failed. */
export class PublicationError extends ReplicationError {
  override name = 'PublicationError';
  readonly publication: string;

  constructor(
    publication: string,
    message: string,
    options: ReplicationErrorOptions & { code?: 'publication_error' | 'table_missing' } = {},
  ) {
    super(options.code ?? 'publication_error', message, options);
    this.publication = publication;
  }
}

/** A replication slot operation failed. */
export class SlotError extends ReplicationError {
  override name = 'SlotError';
  readonly slot: string;

  constructor(
    slot: string,
    message: string,
    options: ReplicationErrorOptions & {
      code?: 'slot_error' | 'slot_exists' | 'slot_missing' | 'slot_lost' | 'slot_in_use';
    } = {},
  ) {
    super(options.code ?? 'slot_error', message, options);
    this.slot = slot;
  }
}

/**
 * The slot was invalidated (`wal_status = 'lost'`): the WAL it needed is gone,
 * changes were lost, and only a full resync restores the destination.
 */
export class SlotLostError extends SlotError {
  override name = 'SlotLostError';

  constructor(slot: string, message: string, options: ReplicationErrorOptions = {}) {
    super(slot, message, { ...options, code: 'slot_lost' });
  }
}

/** Another process streams from the slot. Retryable: it may let go later. */
export class SlotInUseError extends SlotError {
  override name = 'SlotInUseError';
  /** The server process holding the slot, when known. */
  readonly activePid: number | undefined;
  readonly retryable = true;

  constructor(
    slot: string,
    activePid: number | undefined,
    message: string,
    options: ReplicationErrorOptions = {},
  ) {
    super(slot, message, { ...options, code: 'slot_in_use' });
    this.activePid = activePid;
  }
}

export type StreamErrorCode =
  | 'invalid_argument'
  | 'slot_missing'
  | 'publication_missing'
  | 'protocol_error'
  | 'spill_error'
  | 'stream_error';

/** The replication stream stopped for a reason a reconnect cannot fix. */
export class StreamError extends ReplicationError {
  override name = 'StreamError';
  readonly slot: string;

  constructor(
    code: StreamErrorCode,
    slot: string,
    message: string,
    options: ReplicationErrorOptions = {},
  ) {
    super(code, message, options);
    this.slot = slot;
  }
}
