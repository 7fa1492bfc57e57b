/** Why a byte sequence could not be decoded. */
export type PgoutputDecodeErrorCode =
  /** The input ends before the message does (a cut frame, or a length field pointing past the end). */
  | 'truncated'
  /** The first byte is not a known message (or frame) tag. */
  | 'unknown_tag'
  /** A field holds a value the protocol does not allow (a bad tuple kind, replica identity, ...). */
  | 'invalid'
  /** A length field is negative or larger than the configured limit. */
  | 'oversized'
  /** Bytes are left over after a complete message: the framing is off. */
  | 'trailing_bytes'
  /** A text value or name is not valid UTF-8 (the connection's client_encoding is not UTF8). */
  | 'invalid_utf8'
  /** The message needs a higher protocol version than the decoder was created with. */
  | 'protocol_version';

/** Every failure of this package has one of these codes. */
export type PgoutputErrorCode =
  | PgoutputDecodeErrorCode
  | 'invalid_lsn'
  | 'invalid_timestamp'
  | 'invalid_argument'
  | 'unknown_relation'
  | 'tuple_mismatch'
  | 'invalid_value';

/** Base class of every error this package throws. */
export class PgoutputError extends Error {
  override readonly name: string = 'PgoutputError';
  readonly code: PgoutputErrorCode;

  constructor(code: PgoutputErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * The only error decode and parse functions throw on bad input. `offset` is
 * the byte offset in the input where decoding failed; `tag` the message (or
 * frame) tag letter when one was read.
 */
export class PgoutputDecodeError extends PgoutputError {
  override readonly name = 'PgoutputDecodeError';
  declare readonly code: PgoutputDecodeErrorCode;
  readonly tag: string | undefined;
  readonly offset: number;
  readonly protoVersion: number;

  constructor(
    code: PgoutputDecodeErrorCode,
    detail: string,
    context: { tag: string | undefined; offset: number; protoVersion: number },
    options?: { cause?: unknown },
  ) {
    const where =
      context.tag === undefined
        ? `at offset ${context.offset}`
        : `in '${context.tag}' message at offset ${context.offset}`;
    super(
      code,
      `pgoutput ${code} ${where} (protocol v${context.protoVersion}): ${detail}`,
      options,
    );
    this.tag = context.tag;
    this.offset = context.offset;
    this.protoVersion = context.protoVersion;
  }
}

/** Thrown by `RelationCache` when a row refers to a relation it cannot resolve. */
export class PgoutputRelationError extends PgoutputError {
  override readonly name = 'PgoutputRelationError';
  readonly relationOid: number;
  /** The column whose value failed to parse, for `invalid_value`. */
  readonly column: string | undefined;

  constructor(
    code: 'unknown_relation' | 'tuple_mismatch' | 'invalid_value',
    message: string,
    context: { relationOid: number; column?: string },
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.relationOid = context.relationOid;
    this.column = context.column;
  }
}

/** Callers passing something other than bytes get this rather than a confusing decode error. */
export function assertBytes(data: unknown, what: string): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new PgoutputError(
      'invalid_argument',
      `${what} takes a Uint8Array or Buffer, got ${data === null ? 'null' : typeof data}`,
    );
  }
}
