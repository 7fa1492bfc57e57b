import {
  backoffMs,
  formatLsn,
  type Logger,
  noopLogger,
  redactPasswords,
  sleep,
} from '@kuvasz/core';
import {
  PgoutputDecoder,
  parseReplicationFrame,
  RelationCache,
  XLOGDATA_HEADER_BYTES,
} from '@kuvasz/pgoutput';
import { StreamError } from '../errors.js';
import { assertValidPublicationName, assertValidSlotName } from '../naming.js';
import { ReplicationConnection } from '../replication-connection.js';
import { type CreatedSlot, takeCreatedSlotConnection } from '../slots.js';
import type { TransactionPart } from '../types.js';
import { DeliveryQueue } from './delivery-queue.js';
import { classifyFailure } from './failure.js';
import { Heartbeat } from './heartbeat.js';
import type { ReplicationStreamOptions } from './options.js';
import { DEFAULT_PART_LIMITS, type PartLimits, RelationMapping } from './part-builder.js';
import { StreamPositions } from './positions.js';
import { checkSlotAndPublication } from './preconditions.js';
import { chooseProtocol, type StreamProtocol, startReplicationCommand } from './protocol.js';
import { ReplicationSession } from './replication-session.js';
import { SpillDir } from './spill-dir.js';
import { MemoryBudget } from './spill-log.js';
import { newStats, type StreamStats } from './stats.js';
import { StatusTimers } from './status-timers.js';
import { TransactionAssembler } from './transaction-assembler.js';

/** First byte of an XLogData frame ('w'). */
const XLOGDATA_TAG = 0x77;

export type { ReplicationStreamOptions } from './options.js';

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * The replication stream of one slot, as an async iterable of committed
 * transaction parts. Pull-based: while the consumer is busy the socket is
 * paused, and status updates keep flowing on a timer. Reconnects on its own;
 * stops with a typed error only when a reconnect cannot help.
 *
 * Three positions are kept apart: `receivedLsn` (what the server sent),
 * `deliveredLsn` (end of the last final part handed out) and `flushedLsn`
 * (what the consumer acknowledged with `ack()`, the only position reported
 * to the server as flushed, plus WAL with nothing for us while idle).
 */
export class ReplicationStream implements AsyncIterableIterator<TransactionPart> {
  readonly slot: string;
  readonly publication: string;
  /** `server_version_num` of the source, once connected. */
  serverVersion: number | undefined;
  /** The protocol in use, once connected. */
  protocol: StreamProtocol | undefined;
  /** Connections lost and re-established so far. */
  reconnects = 0;
  /** Counters for metrics and tests. */
  readonly stats: StreamStats = newStats();

  private readonly o: ReplicationStreamOptions;
  private readonly url: string;
  private readonly log: Logger;
  private readonly limits: PartLimits;
  private readonly mapping: RelationMapping;
  private readonly budget: MemoryBudget;
  private readonly spillDir: SpillDir;
  private readonly heartbeatPrefix: string | undefined;
  private heartbeat: Heartbeat | undefined;

  private readonly pos: StreamPositions;

  private readonly queue: DeliveryQueue;
  private session: ReplicationSession | undefined;
  private assembler: TransactionAssembler | undefined;
  private createdSlot: CreatedSlot | undefined;
  private runner: Promise<void> | undefined;
  private failure: Error | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Aborted by `close()`: ends a reconnect backoff early. */
  private readonly stopBackoff = new AbortController();
  private readonly timers: StatusTimers;
  private nextBusy = false;
  private readonly startedPromise: Promise<void>;
  private resolveStarted!: () => void;
  private rejectStarted!: (e: Error) => void;

  constructor(options: ReplicationStreamOptions) {
    assertValidSlotName(options.slot);
    assertValidPublicationName(options.publication);
    if (options.createdSlot && options.createdSlot.slot !== options.slot) {
      throw new StreamError(
        'invalid_argument',
        options.slot,
        `createdSlot is slot "${options.createdSlot.slot}", not "${options.slot}"`,
      );
    }
    this.o = options;
    this.slot = options.slot;
    this.publication = options.publication;
    this.url = redactPasswords(options.connectionString);
    this.log = (options.logger ?? noopLogger).child({ slot: options.slot });
    this.limits = { ...DEFAULT_PART_LIMITS, ...options.part };
    this.queue = new DeliveryQueue(
      Math.max(1, options.maxQueuedParts ?? 2),
      () => {
        if (this.session?.pause()) this.stats.pauses++;
      },
      () => this.session?.resume(),
    );
    this.mapping = new RelationMapping(options.mapRelation);
    this.budget = new MemoryBudget(options.spill?.memoryBytes ?? 32 * 1024 * 1024);
    this.spillDir = new SpillDir(options.spill?.dir, this.log);
    this.spillDir.onFile = () => {
      this.stats.spillFiles++;
    };
    this.heartbeatPrefix = options.heartbeat
      ? (options.heartbeat.prefix ?? 'kuvasz_heartbeat')
      : undefined;
    this.createdSlot = options.createdSlot;
    this.pos = new StreamPositions(options.slot);
    this.timers = new StatusTimers(options.statusIntervalMs ?? 10_000, () => {
      this.sendStatusUpdate();
    });
    if (options.createdSlot) {
      this.pos.setStart(max(options.createdSlot.consistentPoint, options.startLsn ?? 0n));
    }
    this.startedPromise = new Promise<void>((resolve, reject) => {
      this.resolveStarted = resolve;
      this.rejectStarted = reject;
    });
    // Unobserved rejections of start() must not crash the process.
    this.startedPromise.catch(() => {});
  }

  /** Last WAL position the server sent (data or keepalive). */
  get receivedLsn(): bigint {
    return this.pos.received;
  }

  /** End LSN of the last final part handed to the consumer. */
  get deliveredLsn(): bigint {
    return this.pos.delivered;
  }

  /** Position reported to the server as flushed: acknowledged by the consumer, or empty WAL while idle. */
  get flushedLsn(): bigint {
    return this.pos.flushed;
  }

  /** The highest LSN passed to `ack()`. */
  get ackedLsn(): bigint {
    return this.pos.acked;
  }

  /** Bytes of streamed transactions held in memory right now (the rest is in spill files). */
  get spillMemoryBytes(): number {
    return this.budget.used;
  }

  /** Resolves once the first START_REPLICATION succeeded; rejects if the stream failed before. */
  start(): Promise<void> {
    this.ensureRunning();
    return this.startedPromise;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<TransactionPart>> {
    if (this.nextBusy) {
      throw new StreamError(
        'invalid_argument',
        this.slot,
        'next() was called while the previous call was pending; a stream has one consumer',
      );
    }
    this.nextBusy = true;
    try {
      this.ensureRunning();
      for (;;) {
        if (this.closed) return DONE;
        if (this.failure) throw this.failure;
        const head = this.queue.head;
        if (!head) {
          await this.queue.wait();
          continue;
        }
        if (head.kind === 'part') {
          this.queue.shift();
          this.refreshFlushed();
          return { done: false, value: this.deliver(head.part) };
        }
        let part: TransactionPart | undefined;
        try {
          part = await head.source.next();
        } catch (e) {
          if (head.gen === this.queue.gen && !this.closed) this.session?.fail(e as Error);
          continue;
        }
        // A reconnect meanwhile dropped this source: the server sends it again.
        if (head.gen !== this.queue.gen || this.closed) continue;
        if (!part || part.final) {
          this.queue.shift();
          head.source.dispose();
          this.refreshFlushed();
        }
        if (part) return { done: false, value: this.deliver(part) };
      }
    } finally {
      this.nextBusy = false;
    }
  }

  /** Ends the iteration (a `break` out of `for await`): same as `close()`. */
  async return(): Promise<IteratorResult<TransactionPart>> {
    await this.close();
    return DONE;
  }

  /**
   * The consumer made everything up to `lsn` durable: a final part's
   * `endLsn`. Never beyond `deliveredLsn`. Reported to the server with the
   * next status update (within a second).
   */
  ack(lsn: bigint): void {
    if (this.pos.ack(lsn) && this.refreshFlushed()) this.timers.schedule();
  }

  /** Sends a standby status update now; false when no session is streaming. */
  sendStatusUpdate(replyRequested = false): boolean {
    const s = this.session;
    if (!s || s.isEnded) return false;
    this.refreshFlushed();
    this.stats.statusUpdates++;
    return s.write(this.pos.statusUpdate(replyRequested));
  }

  /**
   * Stops streaming: a final status update with the flushed position, then
   * the connection is closed and spill files removed. The iteration ends.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.closed = true;
    this.queue.wake();
    this.stopBackoff.abort();
    this.timers.stop();
    await this.heartbeat?.stop();
    const s = this.session;
    if (s) {
      this.sendStatusUpdate();
      this.session = undefined;
      await s.close();
    }
    this.dropPending();
    this.spillDir.remove();
    await this.createdSlot?.release();
    this.createdSlot = undefined;
    // A connection attempt in flight ends by itself (and sees `closed`); do not wait for its timeout.
    await Promise.race([this.runner, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    this.resolveStarted();
    this.log.info(
      { flushed: formatLsn(this.pos.flushed), delivered: formatLsn(this.pos.delivered) },
      'replication stream closed',
    );
  }

  private ensureRunning(): void {
    if (this.runner || this.closed) return;
    this.runner = this.run();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    const initialMs = this.o.reconnect?.initialMs ?? 500;
    const maxMs = this.o.reconnect?.maxMs ?? 30_000;
    const maxAttempts = this.o.reconnect?.maxAttempts ?? Number.POSITIVE_INFINITY;
    while (!this.closed) {
      let session: ReplicationSession | undefined;
      try {
        session = await this.openSession();
        if (this.closed) {
          // close() ran while connecting: it could not see this session.
          this.timers.stop();
          this.session = undefined;
          await session.close();
          break;
        }
        this.resolveStarted();
        this.startHeartbeat();
        const err = await session.ended;
        if (this.closed) break;
        if (session.framesReceived > 0) attempt = 0;
        throw err ?? new Error('the replication session ended');
      } catch (e) {
        if (session && this.session === session) this.session = undefined;
        await session?.close().catch(() => {});
        this.timers.stop();
        if (this.closed) break;
        const c = classifyFailure(e, {
          slot: this.slot,
          publication: this.publication,
          url: this.url,
        });
        attempt++;
        if (c.fatal || attempt > maxAttempts) {
          this.failure = c.error;
          this.rejectStarted(c.error);
          this.dropPending();
          this.log.error(
            { err: c.error.message, code: (c.error as { code?: string }).code },
            'replication stream stopped',
          );
          this.queue.wake();
          break;
        }
        this.dropPending();
        const delayMs = backoffMs(attempt - 1, { initialMs, maxMs });
        this.log.warn(
          { err: c.error.message, attempt, delayMs, resumeAt: formatLsn(this.pos.flushed) },
          'replication connection lost; reconnecting',
        );
        await sleep(delayMs, this.stopBackoff.signal);
        this.reconnects++;
      }
    }
  }

  private async openSession(): Promise<ReplicationSession> {
    const adopted = this.createdSlot ? takeCreatedSlotConnection(this.createdSlot) : undefined;
    this.createdSlot = undefined;
    const conn =
      adopted ??
      (await ReplicationConnection.open(this.o.connectionString, {
        applicationName: this.o.applicationName ?? this.slot,
        ...(this.o.connectTimeoutMs === undefined
          ? {}
          : { connectTimeoutMs: this.o.connectTimeoutMs }),
      }));
    try {
      const versionNum = await conn.serverVersionNum();
      const major = await conn.serverMajor();
      this.serverVersion = versionNum;
      const protocol = chooseProtocol(
        major,
        {
          protoVersion: this.o.protoVersion ?? 'auto',
          binary: this.o.binary ?? false,
          messages: this.o.messages ?? true,
          streaming: this.o.streaming ?? true,
        },
        this.slot,
      );
      this.protocol = protocol;
      // A held connection must run nothing before START_REPLICATION: its
      // exported snapshot may still be in use by copies.
      if (!adopted) {
        const health = await checkSlotAndPublication(
          conn,
          major,
          this.slot,
          this.publication,
          this.url,
        );
        if (!this.pos.known) {
          this.pos.setStart(max(health.confirmedFlushLsn ?? 0n, this.o.startLsn ?? 0n));
        }
      }
      const decoder = new PgoutputDecoder({ protoVersion: protocol.protoVersion });
      // Wire rows need text-format values, or binary ones with the caller's decoders.
      const wireFormat = !protocol.binary || this.o.binaryText !== undefined;
      const gen = this.queue.clear();
      this.assembler = new TransactionAssembler({
        stats: this.stats,
        protoVersion: protocol.protoVersion,
        relations: new RelationCache(),
        mapping: this.mapping,
        limits: this.limits,
        heartbeatPrefix: this.heartbeatPrefix,
        budget: this.budget,
        spillDir: this.spillDir,
        slot: this.slot,
        log: this.log,
        wireInserts: (this.o.wireInserts || this.o.wireRows || false) && wireFormat,
        wireRows: (this.o.wireRows ?? false) && wireFormat,
        binaryText: protocol.binary ? this.o.binaryText : undefined,
        sink: {
          part: (part) => this.queue.push({ kind: 'part', part, gen }),
          replay: (source) => this.queue.push({ kind: 'replay', source, gen }),
          committed: (endLsn) => this.pos.committedUpTo(endLsn),
          confirmable: (lsn) => {
            this.pos.emptyUpTo(lsn);
            if (this.refreshFlushed()) this.timers.schedule();
          },
        },
      });
      const assembler = this.assembler;
      const command = startReplicationCommand(
        this.slot,
        this.pos.flushed,
        this.publication,
        protocol,
      );
      this.log.info({ command, server: versionNum }, 'starting replication');
      let session: ReplicationSession | undefined;
      const onFrame = (buf: Buffer, start: number, end: number) => {
        if (!session || session !== this.session || this.closed) return;
        try {
          // XLogData (nearly every frame) read in place: its WAL start, then the message.
          if (end - start < XLOGDATA_HEADER_BYTES || buf[start] !== XLOGDATA_TAG) {
            const f = parseReplicationFrame(buf.subarray(start, end));
            if (f.tag === 'keepalive') {
              this.stats.keepalives++;
              this.pos.receivedUpTo(f.walEnd);
              this.pos.emptyUpTo(f.walEnd);
              const advanced = this.refreshFlushed();
              // A keepalive asking for a reply is answered now (the server
              // waits for it). Others come each time the WAL sender catches
              // up, which on a server of many databases is every commit of
              // any of them: an answer each would cost a write here and a
              // wakeup there per commit, so the new position goes out with
              // the next coalesced update (within a second).
              if (f.replyRequested) this.sendStatusUpdate();
              else if (advanced) this.timers.schedule();
            }
            return;
          }
          this.pos.receivedAt(buf, start + 1);
          const at = start + XLOGDATA_HEADER_BYTES;
          if (at === end) return;
          if (assembler.handleWireRow(buf, at, end)) return;
          const data = buf.subarray(at, end);
          // Rows of a streamed transaction are decoded once, at replay; the
          // decoder's state changes only on Stream Start/Stop, so skipping it is safe.
          if (assembler.handleStreamedRow(data)) return;
          assembler.handle(decoder.decode(data), data);
        } catch (e) {
          session.fail(e as Error);
        }
      };
      session = new ReplicationSession(
        conn,
        conn.startReplication(command),
        onFrame,
        this.pos.statusUpdate(),
      );
      this.session = session;
      const ended = session.ended.then((err) => {
        throw err ?? new Error('the replication session ended before streaming started');
      });
      await Promise.race([session.started, ended]);
      ended.catch(() => {});
      this.timers.start();
      this.log.info(
        {
          start: formatLsn(this.pos.flushed),
          protocol: protocol.protoVersion,
          streaming: protocol.streaming,
        },
        'replication streaming',
      );
      return session;
    } catch (e) {
      if (this.session?.conn === conn) this.session = undefined;
      await conn.close();
      throw e;
    }
  }

  private deliver(part: TransactionPart): TransactionPart {
    this.stats.parts++;
    this.stats.changes += part.changes.length;
    if (part.final) {
      this.stats.transactions++;
      this.pos.deliveredUpTo(part.endLsn);
    }
    return part;
  }

  /** See `StreamPositions.refresh`: quiet = nothing queued and nothing half received. */
  private refreshFlushed(): boolean {
    return this.pos.refresh(this.queue.length === 0 && this.assembler?.busy !== true);
  }

  private startHeartbeat(): void {
    const hb = this.o.heartbeat;
    if (!hb || hb.intervalMs <= 0 || this.heartbeat || this.heartbeatPrefix === undefined) return;
    this.heartbeat = new Heartbeat(
      this.o.connectionString,
      hb.intervalMs,
      this.heartbeatPrefix,
      this.log,
    );
    this.heartbeat.start();
  }

  /** Forgets everything received but not delivered: after a reconnect the server sends it again. */
  private dropPending(): void {
    this.queue.clear();
    this.assembler?.dispose();
    this.assembler = undefined;
  }
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
