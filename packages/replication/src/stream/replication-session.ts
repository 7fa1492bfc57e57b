import { type FrameListener, FramingError } from '../copy-both.js';
import { ConnectionError } from '../errors.js';
import type { CopyBothStream, ReplicationConnection } from '../replication-connection.js';

/**
 * One START_REPLICATION on one connection: frames in (flowing, pausable for
 * backpressure), status updates out, and one `ended` promise however it
 * stops (server error, connection loss, `fail()`, `close()`).
 */
export class ReplicationSession {
  readonly started: Promise<void>;
  readonly ended: Promise<Error | undefined>;
  framesReceived = 0;
  private done = false;
  private paused = false;
  private resolveEnded!: (err: Error | undefined) => void;

  constructor(
    readonly conn: ReplicationConnection,
    private readonly duplex: CopyBothStream,
    onFrame: FrameListener,
    firstStatus: Uint8Array,
  ) {
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
    this.started = new Promise((resolve) => {
      // The stream is corked until the server's CopyBothResponse: this
      // callback runs once START_REPLICATION succeeded.
      duplex.write(firstStatus, (err) => {
        if (!err) resolve();
      });
    });
    const deliver: FrameListener = (buf, start, end) => {
      if (this.done) return;
      this.framesReceived++;
      onFrame(buf, start, end);
    };
    if (duplex.onFrames) duplex.onFrames(deliver);
    else duplex.on('data', (frame: Buffer) => deliver(frame, 0, frame.length));
    duplex.on('error', (err: Error) => {
      if (!(err instanceof FramingError)) {
        this.finish(err);
        return;
      }
      // The connection cannot be read any more: close it; the stream reconnects.
      this.fail(new ConnectionError(conn.url, `${conn.url}: ${err.message}`, { cause: err }));
    });
    duplex.on('end', () =>
      this.finish(
        new ConnectionError(conn.url, `${conn.url}: the server ended the replication stream`),
      ),
    );
    conn.onEnd((err) =>
      this.finish(
        err ?? new ConnectionError(conn.url, `${conn.url}: the replication connection closed`),
      ),
    );
  }

  get isEnded(): boolean {
    return this.done;
  }

  write(data: Uint8Array): boolean {
    if (this.done || !this.duplex.writable) return false;
    this.duplex.write(data);
    return true;
  }

  /** True when it paused now (it was flowing). */
  pause(): boolean {
    if (this.paused || this.done) return false;
    this.paused = true;
    this.duplex.pause();
    return true;
  }

  resume(): void {
    if (!this.paused || this.done) return;
    this.paused = false;
    this.duplex.resume();
  }

  /** Ends the session with an error (e.g. a frame that could not be decoded). */
  fail(err: Error): void {
    this.finish(err);
    void this.conn.close();
  }

  /** Ends the session normally; whatever was written before is sent first. */
  async close(): Promise<void> {
    this.finish(undefined);
    await this.conn.close();
  }

  private finish(err: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    this.resolveEnded(err);
  }
}
