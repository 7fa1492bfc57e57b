/**
 * Every error this package throws or reports. `code` tells what went wrong;
 * the context fields say where. Messages never contain row data beyond the
 * replica identity key of the change, and never a password.
 */
export type ApplyErrorCode =
  /** The destination rejected a change (constraint, type, missing column): the source stops. */
  | 'change_rejected'
  /** Target tables do not match the configuration (raised by `start()`). */
  | 'target_invalid'
  /** A change cannot be mapped onto its target (no shared column, no key). */
  | 'unmappable_change'
  /** The destination stayed unreachable through every retry. */
  | 'destination_unavailable'
  /** A table's row rules (filter, computed columns) failed on a change, or could not be bound to its relation: the source stops (fail closed). */
  | 'rule_failed'
  /** The caller broke the input contract (order, parts, unknown source table). */
  | 'invalid_input'
  /** Bad engine options. */
  | 'invalid_options'
  /** The engine is not started, or already closed. */
  | 'engine_state'
  /** The source stopped earlier with another error; this push was refused. */
  | 'source_failed'
  /** In a fleet: this instance no longer holds the source's lease (another took it over); nothing more of it is written here. */
  | 'lease_lost';

export interface ApplyErrorContext {
  /** Target table, `schema.table` (quoted where needed). */
  table?: string | undefined;
  /** Replica identity key of the change, `col=value, ...` (values truncated). */
  key?: string | undefined;
  /** Commit LSN of the source transaction, `X/Y`. */
  lsn?: string | undefined;
  /** Index of the change within its source transaction. */
  changeIndex?: number | undefined;
  /** SQLSTATE reported by the destination, when it rejected a statement. */
  sqlstate?: string | undefined;
  /** The source the error belongs to, `database (sid N)`. */
  source?: string | undefined;
  cause?: unknown;
}

export class ApplyError extends Error {
  override readonly name: string = 'ApplyError';
  readonly code: ApplyErrorCode;
  readonly table: string | undefined;
  readonly key: string | undefined;
  readonly lsn: string | undefined;
  readonly changeIndex: number | undefined;
  readonly sqlstate: string | undefined;
  readonly source: string | undefined;

  constructor(code: ApplyErrorCode, message: string, context: ApplyErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.code = code;
    this.table = context.table;
    this.key = context.key;
    this.lsn = context.lsn;
    this.changeIndex = context.changeIndex;
    this.sqlstate = context.sqlstate;
    this.source = context.source;
  }
}

/** `start()` found target tables that cannot work; `problems` lists every one of them. */
export class TargetError extends ApplyError {
  override readonly name = 'TargetError';
  readonly problems: readonly string[];

  constructor(problems: string[]) {
    super(
      'target_invalid',
      `${problems.length} problem(s) with the target tables:\n- ${problems.join('\n- ')}`,
    );
    this.problems = problems;
  }
}

/** Normalizes anything caught into an `Error` for `cause` and logs. */
export function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
