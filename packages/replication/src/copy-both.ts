import { EventEmitter } from 'node:events';

/** What ReplicationSession needs of a START_REPLICATION exchange. */
export interface CopyBothStream {
  /** Sends one CopyData message (a status update); before the server's CopyBothResponse it is held, and `cb` runs once sent. */
  write(data: Uint8Array, cb?: (err?: Error | null) => void): boolean;
  on(event: 'data', listener: (frame: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'end', listener: () => void): this;
  /** Frames as byte ranges instead of 'data' events (set before the first frame can arrive). */
  onFrames?(listener: FrameListener): void;
  /** Stops reading the socket (backpressure); `resume` reads again. */
  pause(): void;
  resume(): void;
  readonly writable: boolean;
}

/** Called with each CopyData payload as a byte range of a buffer that is reused after the call. */
export type FrameListener = (buf: Buffer, start: number, end: number) => void;

type DataListener = (chunk: Buffer) => void;

/** The socket under `pg`'s Connection (TCP or TLS). */
interface PgSocket {
  pause(): void;
  resume(): void;
  listeners(event: 'data'): ((...args: unknown[]) => unknown)[];
  removeListener(event: 'data', listener: DataListener): unknown;
  prependListener(event: 'data', listener: DataListener): unknown;
}

/** The part of `pg`'s Connection this query uses. */
interface PgConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  once(event: 'replicationStart', listener: () => void): unknown;
  removeListener(event: 'replicationStart', listener: () => void): unknown;
  stream: PgSocket;
}

const COPY_DATA = 0x64; // 'd'
const HEADER = 5; // type byte, Int32 length (which counts itself)
/**
 * The longest message a server can send: a WAL sender builds each message in
 * one buffer of at most 1 GB - 1 bytes (MaxAllocSize), plus the length itself.
 */
const MAX_LENGTH = 4 + 0x3fffffff;

/**
 * The server's bytes do not frame as protocol messages (a length below 4 or
 * above what a server can send): the connection is unusable from there on.
 * Nothing after it is read; the stream reconnects from its last confirmed
 * position, so nothing is lost.
 */
export class FramingError extends Error {
  override name = 'FramingError';
}

function badLength(type: number, length: number): string | undefined {
  if (length >= 4 && length <= MAX_LENGTH) return undefined;
  const what =
    type >= 0x20 && type < 0x7f ? `'${String.fromCharCode(type)}'` : `0x${type.toString(16)}`;
  return `the server sent a message (type ${what}) with length ${length}, outside 4 to ${MAX_LENGTH}: the replication stream is corrupt (a proxy or pooler between us and the server that does not pass the replication protocol through unchanged, or a broken network path); reconnecting`;
}

/**
 * START_REPLICATION as a `pg` custom query. `pg` opens, authenticates and
 * sends the command; from then on this query reads the socket itself:
 * CopyData messages are framed in place and handed to the frame listener as
 * byte ranges of the socket's read (no message object, no slice, no event
 * per message), synchronously from the read that carried them; every other
 * message (CopyBothResponse, errors, notices, CopyDone, CommandComplete,
 * ReadyForQuery) goes whole to `pg`'s own parser, which runs the query's
 * callbacks as before. Once the exchange ends, `pg`'s parser gets the socket
 * back with whatever bytes follow. Should the socket not look as expected
 * (no `pg` parser listening), `pg` keeps it and frames come from its parser.
 *
 * A frame is valid until the listener returns: whatever outlives that must be
 * copied (the stream decodes each frame at once; the spill log and the tuple
 * arena copy the bytes they keep).
 */
export class CopyBothQuery extends EventEmitter implements CopyBothStream {
  private connection: PgConnection | undefined;
  private started = false;
  private ended = false;
  private held: { data: Uint8Array; cb: ((err?: Error | null) => void) | undefined }[] = [];
  private frameListener: FrameListener | undefined;
  /** The socket while this query reads it, and `pg`'s parser listener it took the place of. */
  private socket: PgSocket | undefined;
  private pgData: DataListener | undefined;
  /** A message cut by the end of a read: its bytes so far (`fill` of them), sized whole once its header is in. */
  private partial: Buffer | undefined;
  private fill = 0;
  /** Inside a socket read: the exchange's end gives the socket back from there. */
  private reading = false;
  /** The bytes stopped framing (FramingError): nothing more is read. */
  private broken = false;

  constructor(readonly text: string) {
    super();
  }

  /**
   * Frames go to `listener` as byte ranges instead of 'data' events of
   * slices (the replication stream's hot path). Set it before submitting.
   */
  onFrames(listener: FrameListener): void {
    this.frameListener = listener;
  }

  get writable(): boolean {
    return !this.ended;
  }

  submit(connection: PgConnection): void {
    this.connection = connection;
    connection.once('replicationStart', this.onStart);
    // The connection is idle (pg sends a query only after ReadyForQuery), so pg's
    // parser holds no partial message: every byte from here on passes through us.
    this.takeSocket(connection.stream);
    connection.query(this.text);
  }

  private takeSocket(socket: PgSocket): void {
    const first = socket.listeners('data')[0];
    if (typeof first !== 'function') return;
    this.pgData = first as DataListener;
    this.socket = socket;
    socket.removeListener('data', this.pgData);
    socket.prependListener('data', this.onSocketData);
  }

  /** `pg`'s parser reads the socket again, starting with `rest` (bytes not yet parsed). */
  private giveBack(rest: Buffer | undefined): void {
    const socket = this.socket;
    const pgData = this.pgData;
    if (!socket || !pgData) return;
    this.socket = undefined;
    this.partial = undefined;
    socket.removeListener('data', this.onSocketData);
    socket.prependListener('data', pgData);
    if (rest && rest.length > 0) pgData(rest);
  }

  private readonly onSocketData = (chunk: Buffer): void => {
    this.reading = true;
    try {
      this.read(chunk);
    } finally {
      this.reading = false;
    }
  };

  private read(chunk: Buffer): void {
    if (this.broken) return;
    let pos = 0;
    if (this.partial) {
      pos = this.completePartial(chunk);
      if (pos < 0) return; // still incomplete (or broken)
      const whole = this.partial;
      this.partial = undefined;
      this.message(whole);
      if (this.ended) {
        this.giveBackRest(chunk, pos);
        return;
      }
    }
    const n = chunk.length;
    let passFrom = -1;
    while (n - pos >= HEADER) {
      const length = chunk.readUInt32BE(pos + 1);
      const bad = badLength(chunk[pos]!, length);
      if (bad) {
        this.corrupt(bad);
        return;
      }
      const end = pos + 1 + length;
      if (end > n) break;
      if (chunk[pos] === COPY_DATA) {
        // The messages before it first: one of them may be the CopyBothResponse that starts the exchange.
        if (passFrom >= 0) {
          this.pass(chunk.subarray(passFrom, pos));
          passFrom = -1;
          if (this.ended) {
            this.giveBackRest(chunk, pos);
            return;
          }
        }
        if (this.started && !this.ended) {
          this.frame(chunk, pos + HEADER, end);
          pos = end;
          continue;
        }
      }
      if (passFrom < 0) passFrom = pos;
      pos = end;
    }
    if (passFrom >= 0) {
      this.pass(chunk.subarray(passFrom, pos));
      if (this.ended) {
        this.giveBackRest(chunk, pos);
        return;
      }
    }
    if (pos < n) {
      // The last message continues in the next read: keep a copy (this read's buffer is not ours).
      const rest = chunk.subarray(pos);
      const whole = rest.length >= HEADER ? 1 + rest.readUInt32BE(1) : HEADER;
      this.partial = Buffer.allocUnsafe(Math.max(whole, rest.length));
      rest.copy(this.partial, 0);
      this.fill = rest.length;
    }
  }

  /** Adds the start of `chunk` to the cut message; the offset in `chunk` after it, or -1 while it is still incomplete. */
  private completePartial(chunk: Buffer): number {
    let p = this.partial!;
    let used = 0;
    if (this.fill < HEADER) {
      // Not even its length was in: take the header's bytes first.
      const take = Math.min(HEADER - this.fill, chunk.length);
      chunk.copy(p, this.fill, 0, take);
      this.fill += take;
      used = take;
      if (this.fill < HEADER) return -1;
      const length = p.readUInt32BE(1);
      const bad = badLength(p[0]!, length);
      if (bad) {
        this.corrupt(bad);
        return -1;
      }
      const whole = 1 + length;
      const grown = Buffer.allocUnsafe(whole);
      p.copy(grown, 0, 0, HEADER);
      this.partial = p = grown;
    }
    const take = Math.min(p.length - this.fill, chunk.length - used);
    chunk.copy(p, this.fill, used, used + take);
    this.fill += take;
    used += take;
    return this.fill < p.length ? -1 : used;
  }

  /** One whole message that had been cut between reads. */
  private message(whole: Buffer): void {
    if (whole[0] === COPY_DATA && this.started && !this.ended)
      this.frame(whole, HEADER, whole.length);
    else this.pass(whole);
  }

  /** The bytes do not frame: stop reading, end the exchange with a FramingError (the session closes the connection). */
  private corrupt(message: string): void {
    this.broken = true;
    this.partial = undefined;
    if (this.ended) return;
    this.finish();
    this.emit('error', new FramingError(message));
  }

  private giveBackRest(buf: Buffer, pos: number): void {
    this.giveBack(pos < buf.length ? buf.subarray(pos) : undefined);
  }

  /** Whole messages that are not CopyData, to `pg`'s parser (which may end the exchange). */
  private pass(bytes: Buffer): void {
    this.pgData?.(bytes);
  }

  private frame(buf: Buffer, start: number, end: number): void {
    if (this.frameListener) this.frameListener(buf, start, end);
    else this.emit('data', buf.subarray(start, end));
  }

  private readonly onStart = (): void => {
    this.started = true;
    for (const h of this.held.splice(0)) this.send(h.data, h.cb);
  };

  write(data: Uint8Array, cb?: (err?: Error | null) => void): boolean {
    if (this.ended) {
      cb?.(new Error('the replication stream has ended'));
      return false;
    }
    if (!this.started) this.held.push({ data, cb });
    else this.send(data, cb);
    return true;
  }

  private send(data: Uint8Array, cb: ((err?: Error | null) => void) | undefined): void {
    this.connection?.sendCopyFromChunk(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    cb?.(null);
  }

  pause(): void {
    this.connection?.stream.pause();
  }

  resume(): void {
    this.connection?.stream.resume();
  }

  /** From `pg`'s parser, when the socket stayed with it. */
  handleCopyData(msg: { chunk: Buffer }): void {
    if (!this.ended) this.frame(msg.chunk, 0, msg.chunk.length);
  }

  handleError(err: Error): void {
    if (this.ended) return;
    this.finish();
    this.emit('error', err);
  }

  /** The server ended the exchange (CopyDone, CommandComplete, ReadyForQuery). */
  handleReadyForQuery(): void {
    if (this.ended) return;
    this.finish();
    this.emit('end');
  }

  private finish(): void {
    this.ended = true;
    this.held = [];
    this.connection?.removeListener('replicationStart', this.onStart);
    // Ended outside a read (the connection failed): pg's parser gets the socket and any cut message.
    if (!this.reading && !this.broken) this.giveBack(this.partial?.subarray(0, this.fill));
  }

  // The rest of pg's custom query interface: nothing else comes during CopyBoth.
  callback(): void {}
  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(): void {}
}
