import {
  encodeStandbyStatusUpdate,
  formatLsn,
  PgoutputDecoder,
  parseReplicationFrame,
  RelationCache,
} from '@kuvasz/pgoutput';
import pg from 'pg';
import { StreamError } from '../errors.js';
import { type Logger, noopLogger } from '../logger.js';
import { assertValidPublicationName, assertValidSlotName } from '../naming.js';
import { redactUrl } from '../redact.js';
import { ReplicationConnection } from '../replication-connection.js';
import {
  assertSlotUsable,
  type CreatedSlot,
  type SlotRow,
  slotHealthFromRow,
  slotHealthSql,
  takeCreatedSlotConnection,
} from '../slots.js';
import type { TableRef, TransactionPart } from '../types.js';
import { backoffDelay, classifyFailure } from './failure.js';
import { Heartbeat } from './heartbeat.js';
import { DEFAULT_PART_LIMITS, type PartLimits, RelationMapping } from './part-builder.js';
import {
  chooseProtocol,
  type ProtoVersion,
  type StreamProtocol,
  startReplicationCommand,
} from './protocol.js';
import type { ReplaySource } from './replay-source.js';
import { ReplicationSession } from './replication-session.js';
import { SpillDir } from './spill-dir.js';
import { MemoryBudget } from './spill-log.js';
import { newStats, type StreamStats, TransactionAssembler } from './transaction-assembler.js';

export interface ReplicationStreamOptions {
  connectionString: string;
  slot: string;
  publication: string;
  /**
   * A slot just made by `createSlotWithSnapshot`: the stream starts on its
   * still-open connection at its consistent point (no gap after the copy),
   * and owns that connection from then on.
   */
  createdSlot?: CreatedSlot;
  /**
   * Where to resume: the position the destination durably holds (default:
   * the slot's `confirmed_flush_lsn`, or the created slot's consistent
   * point). The server never goes back before the slot's own position.
   */
  startLsn?: bigint;
  /** pgoutput protocol (default 'auto': the highest that fits, see `chooseProtocol`). */
  protoVersion?: 'auto' | ProtoVersion;
  /** Column values as binary (PostgreSQL 14+, default false: text). */
  binary?: boolean;
  /** Deliver transactional logical messages (PostgreSQL 14+, default true). */
  messages?: boolean;
  /** Let the server stream large in-progress transactions (protocol 2+, default true). */
  streaming?: boolean;
  /** Standby status update period; keep it below the server's wal_sender_timeout (default 10,000 ms). */
  statusIntervalMs?: number;
  /** Periodic `pg_logical_emit_message(false, prefix, ...)` on a normal connection (default off). */
  heartbeat?: { intervalMs: number; prefix?: string } | false;
  /** Streamed transactions past `memoryBytes` (default 64 MiB) go to temp files in `dir` (default the OS temp dir). */
  spill?: { memoryBytes?: number; dir?: string };
  /** Size of transaction parts (default 5,000 changes or 4 MiB). */
  part?: Partial<PartLimits>;
  /** Parts received ahead of the consumer before the socket is paused (default 2). */
  maxQueuedParts?: number;
  /** Reconnect backoff (default 500 ms doubling to 30 s, attempts unlimited). */
  reconnect?: { initialMs?: number; maxMs?: number; maxAttempts?: number };
  /** Report changes of a relation under another name (PostgreSQL 12 partitions, partitions_regex); see `relationMapper`. */
  mapRelation?: (relation: TableRef) => TableRef | undefined;
  applicationName?: string;
  connectTimeoutMs?: number;
  logger?: Logger;
}

type QueueItem =
  | { kind: 'part'; part: TransactionPart; gen: number }
  | { kind: 'replay'; source: ReplaySource; gen: number };

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
  private readonly maxQueued: number;
  private readonly mapping: RelationMapping;
  private readonly budget: MemoryBudget;
  private readonly spillDir: SpillDir;
  private readonly heartbeatPrefix: string | undefined;
  private heartbeat: Heartbeat | undefined;

  private received = 0n;
  private delivered = 0n;
  private acked = 0n;
  private flushed = 0n;
  /** Highest LSN known to have nothing for the consumer before it (keepalive, empty transaction). */
  private candidate = 0n;
  /** Highest end LSN of a transaction received for delivery. */
  private lastCommitted = 0n;
  private positionKnown = false;

  private queue: QueueItem[] = [];
  private gen = 0;
  private session: ReplicationSession | undefined;
  private assembler: TransactionAssembler | undefined;
  private createdSlot: CreatedSlot | undefined;
  private runner: Promise<void> | undefined;
  private failure: Error | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private waiter: (() => void) | undefined;
  private sleeper: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
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
    this.url = redactUrl(options.connectionString);
    this.log = (options.logger ?? noopLogger).child({ slot: options.slot });
    this.limits = { ...DEFAULT_PART_LIMITS, ...options.part };
    this.maxQueued = Math.max(1, options.maxQueuedParts ?? 2);
    this.mapping = new RelationMapping(options.mapRelation);
    this.budget = new MemoryBudget(options.spill?.memoryBytes ?? 64 * 1024 * 1024);
    this.spillDir = new SpillDir(options.spill?.dir, this.log);
    this.spillDir.onFile = () => {
      this.stats.spillFiles++;
    };
    this.heartbeatPrefix = options.heartbeat
      ? (options.heartbeat.prefix ?? 'kuvasz_heartbeat')
      : undefined;
    this.createdSlot = options.createdSlot;
    if (options.createdSlot) {
      this.flushed = max(options.createdSlot.consistentPoint, options.startLsn ?? 0n);
      this.positionKnown = true;
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
    return this.received;
  }

  /** End LSN of the last final part handed to the consumer. */
  get deliveredLsn(): bigint {
    return this.delivered;
  }

  /** Position reported to the server as flushed: acknowledged by the consumer, or empty WAL while idle. */
  get flushedLsn(): bigint {
    return this.flushed;
  }

  /** The highest LSN passed to `ack()`. */
  get ackedLsn(): bigint {
    return this.acked;
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
        const head = this.queue[0];
        if (!head) {
          await new Promise<void>((resolve) => {
            this.waiter = resolve;
          });
          continue;
        }
        if (head.kind === 'part') {
          this.queue.shift();
          this.afterDequeue();
          return { done: false, value: this.deliver(head.part) };
        }
        let part: TransactionPart | undefined;
        try {
          part = await head.source.next();
        } catch (e) {
          if (head.gen === this.gen && !this.closed) this.session?.fail(e as Error);
          continue;
        }
        // A reconnect meanwhile dropped this source: the server sends it again.
        if (head.gen !== this.gen || this.closed) continue;
        if (!part || part.final) {
          this.queue.shift();
          head.source.dispose();
          this.afterDequeue();
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
    if (typeof lsn !== 'bigint' || lsn < 0n) {
      throw new StreamError(
        'invalid_argument',
        this.slot,
        `ack() takes an LSN as a bigint, got ${String(lsn)}`,
      );
    }
    if (lsn > this.delivered) {
      throw new StreamError(
        'invalid_argument',
        this.slot,
        `ack(${formatLsn(lsn)}) is beyond the last delivered position ${formatLsn(this.delivered)}; acknowledge the endLsn of a final part once it is durable`,
      );
    }
    if (lsn <= this.acked) return;
    this.acked = lsn;
    if (this.refreshFlushed()) this.scheduleStatus();
  }

  /** Sends a standby status update now; false when no session is streaming. */
  sendStatusUpdate(replyRequested = false): boolean {
    const s = this.session;
    if (!s || s.isEnded) return false;
    this.refreshFlushed();
    const written = max(this.received, this.flushed);
    this.stats.statusUpdates++;
    return s.write(
      encodeStandbyStatusUpdate({
        writeLsn: written,
        flushLsn: this.flushed,
        applyLsn: this.flushed,
        replyRequested,
      }),
    );
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
    this.wake();
    if (this.sleeper) {
      clearTimeout(this.sleeper.timer);
      this.sleeper.resolve();
    }
    this.stopTimers();
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
      { flushed: formatLsn(this.flushed), delivered: formatLsn(this.delivered) },
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
          this.stopTimers();
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
        this.stopTimers();
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
          this.wake();
          break;
        }
        this.dropPending();
        const delayMs = backoffDelay(attempt, initialMs, maxMs);
        this.log.warn(
          { err: c.error.message, attempt, delayMs, resumeAt: formatLsn(this.flushed) },
          'replication connection lost; reconnecting',
        );
        await this.sleep(delayMs);
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
      if (!adopted) await this.checkSlotAndPublication(conn, major);
      const decoder = new PgoutputDecoder({ protoVersion: protocol.protoVersion });
      const gen = ++this.gen;
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
        sink: {
          part: (part) => this.enqueue({ kind: 'part', part, gen }),
          replay: (source) => this.enqueue({ kind: 'replay', source, gen }),
          committed: (endLsn) => {
            if (endLsn > this.lastCommitted) this.lastCommitted = endLsn;
          },
          confirmable: (lsn) => {
            if (lsn > this.candidate) this.candidate = lsn;
            if (this.refreshFlushed()) this.scheduleStatus();
          },
        },
      });
      const assembler = this.assembler;
      const command = startReplicationCommand(this.slot, this.flushed, this.publication, protocol);
      this.log.info({ command, server: versionNum }, 'starting replication');
      let session: ReplicationSession | undefined;
      const onFrame = (frame: Buffer) => {
        if (!session || session !== this.session || this.closed) return;
        try {
          const f = parseReplicationFrame(frame);
          if (f.tag === 'keepalive') {
            if (f.walEnd > this.received) this.received = f.walEnd;
            if (f.walEnd > this.candidate) this.candidate = f.walEnd;
            const advanced = this.refreshFlushed();
            // An idle slot advances only if we answer: the server sends one
            // keepalive and waits for our reply before the next.
            if (f.replyRequested || advanced) this.sendStatusUpdate();
            return;
          }
          if (f.walStart > this.received) this.received = f.walStart;
          if (f.data.length === 0) return;
          // Rows of a streamed transaction are decoded once, at replay; the
          // decoder's state changes only on Stream Start/Stop, so skipping it is safe.
          if (assembler.handleStreamedRow(f.data)) return;
          assembler.handle(decoder.decode(f.data), f.data);
        } catch (e) {
          session.fail(e as Error);
        }
      };
      const written = max(this.received, this.flushed);
      session = new ReplicationSession(
        conn,
        conn.startReplication(command),
        onFrame,
        encodeStandbyStatusUpdate({
          writeLsn: written,
          flushLsn: this.flushed,
          applyLsn: this.flushed,
        }),
      );
      this.session = session;
      const ended = session.ended.then((err) => {
        throw err ?? new Error('the replication session ended before streaming started');
      });
      await Promise.race([session.started, ended]);
      ended.catch(() => {});
      this.startTimers();
      this.log.info(
        {
          start: formatLsn(this.flushed),
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

  private async checkSlotAndPublication(conn: ReplicationConnection, major: number): Promise<void> {
    const rows = await conn.sql<SlotRow & Record<string, unknown>>(
      slotHealthSql(major).replace('$1', pg.escapeLiteral(this.slot)),
      `reading slot ${this.slot}`,
    );
    const row = rows[0];
    const health = row
      ? slotHealthFromRow(this.slot, row)
      : ({ slot: this.slot, exists: false } as Parameters<typeof assertSlotUsable>[0]);
    assertSlotUsable(health, this.url);
    const pubs = await conn.sql(
      `SELECT 1 FROM pg_publication WHERE pubname = ${pg.escapeLiteral(this.publication)}`,
      'reading the publication',
    );
    if (pubs.length === 0) {
      throw new StreamError(
        'publication_missing',
        this.slot,
        `${this.url}: publication "${this.publication}" does not exist; create it with syncPublication() before streaming`,
      );
    }
    if (!this.positionKnown) {
      this.flushed = max(health.confirmedFlushLsn ?? 0n, this.o.startLsn ?? 0n);
      this.positionKnown = true;
    }
  }

  private enqueue(item: QueueItem): void {
    this.queue.push(item);
    if (this.queue.length >= this.maxQueued && this.session?.pause()) this.stats.pauses++;
    this.wake();
  }

  private afterDequeue(): void {
    if (this.queue.length < this.maxQueued) this.session?.resume();
    this.refreshFlushed();
  }

  private deliver(part: TransactionPart): TransactionPart {
    this.stats.parts++;
    this.stats.changes += part.changes.length;
    if (part.final) {
      this.stats.transactions++;
      if (part.endLsn > this.delivered) this.delivered = part.endLsn;
    }
    return part;
  }

  /**
   * Moves the flushed position: to what the consumer acked, and, when
   * nothing is in flight (every transaction received was delivered and
   * acked, none half received), up to the last position known to carry
   * nothing for us. True when it moved.
   */
  private refreshFlushed(): boolean {
    if (!this.positionKnown) return false;
    let target = this.acked;
    const idle =
      this.queue.length === 0 &&
      this.assembler?.busy !== true &&
      this.lastCommitted <= this.acked &&
      this.delivered <= this.acked;
    if (idle && this.candidate > target) target = this.candidate;
    if (target > this.flushed) {
      this.flushed = target;
      return true;
    }
    return false;
  }

  private scheduleStatus(): void {
    if (this.ackTimer) return;
    const delay = Math.min(1000, this.o.statusIntervalMs ?? 10_000);
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      this.sendStatusUpdate();
    }, delay);
    this.ackTimer.unref();
  }

  private startTimers(): void {
    this.stopTimers();
    this.statusTimer = setInterval(
      () => this.sendStatusUpdate(),
      this.o.statusIntervalMs ?? 10_000,
    );
    this.statusTimer.unref();
  }

  private stopTimers(): void {
    if (this.statusTimer) clearInterval(this.statusTimer);
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.statusTimer = undefined;
    this.ackTimer = undefined;
  }

  private startHeartbeat(): void {
    const hb = this.o.heartbeat;
    if (!hb || this.heartbeat || this.heartbeatPrefix === undefined) return;
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
    this.gen++;
    for (const item of this.queue) if (item.kind === 'replay') item.source.dispose();
    this.queue = [];
    this.assembler?.dispose();
    this.assembler = undefined;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeper = undefined;
        resolve();
      }, ms);
      this.sleeper = { timer, resolve };
    });
  }
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
