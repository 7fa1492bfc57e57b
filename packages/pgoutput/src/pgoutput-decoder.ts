import { BufferReader } from './buffer-reader.js';
import { decodeMessage } from './decode-message.js';
import { assertBytes, PgoutputError } from './errors.js';
import type { PgoutputMessage } from './messages.js';

export type PgoutputProtoVersion = 1 | 2 | 3 | 4;

export interface PgoutputDecoderOptions {
  /**
   * The `proto_version` requested from pgoutput (default 1). Streaming
   * messages need 2, two-phase messages 3, and the Stream Abort LSN and time
   * 4; a message above this version is refused with code `protocol_version`.
   */
  protoVersion?: PgoutputProtoVersion;
}

/** The `protoVersion` option of a decoder or view, checked (default 1). */
export function protoVersionOption(v: PgoutputProtoVersion | undefined): PgoutputProtoVersion {
  const version = v ?? 1;
  if (version !== 1 && version !== 2 && version !== 3 && version !== 4) {
    throw new PgoutputError(
      'invalid_argument',
      `protoVersion ${String(version)} is not a pgoutput protocol version; use 1, 2, 3 or 4 (the proto_version you requested)`,
    );
  }
  return version;
}

/**
 * Decodes pgoutput messages (the payload of XLogData, or the `data` column
 * of `pg_logical_slot_peek_binary_changes`) into typed objects.
 *
 * Stateful only in that, with protocol v2+, DML / Relation / Type / Message
 * between Stream Start and Stream Stop carry a transaction id prefix; call
 * `reset()` when the connection restarts. A decode that throws leaves that
 * state unchanged. Not safe to share between concurrent streams.
 */
export class PgoutputDecoder {
  readonly protoVersion: PgoutputProtoVersion;
  private readonly reader: BufferReader;
  private streaming = false;

  constructor(options: PgoutputDecoderOptions = {}) {
    const v = protoVersionOption(options.protoVersion);
    this.protoVersion = v;
    this.reader = new BufferReader(v);
  }

  /** True between a Stream Start and its Stream Stop. */
  get inStreamBlock(): boolean {
    return this.streaming;
  }

  /** Forgets the stream state, e.g. after a reconnect. */
  reset(): void {
    this.streaming = false;
  }

  /**
   * Decodes one whole message. Throws `PgoutputDecodeError` (and nothing
   * else) on bad input. Text values become strings, binary values fresh
   * `Uint8Array` copies: the result never refers to `data`.
   */
  decode(data: Uint8Array): PgoutputMessage {
    assertBytes(data, 'PgoutputDecoder.decode');
    const msg = decodeMessage(this.reader, data, this.streaming);
    if (msg.tag === 'stream_start') this.streaming = true;
    else if (msg.tag === 'stream_stop') this.streaming = false;
    return msg;
  }
}
