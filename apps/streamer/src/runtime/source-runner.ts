import { type ApplyEngine, ApplyError, type SourceId } from '@kuvasz/apply';
import { type CopySync, SyncFailedError, type TableSpec } from '@kuvasz/copy-sync';
import {
  Backoff,
  displayName,
  formatLsn,
  isLeaseLost,
  type LeaseFence,
  sleep,
  tableKey,
} from '@kuvasz/core';
import {
  assertPreflight,
  assertSlotUsable,
  type CreatedSlot,
  createSlotWithSnapshot,
  createTemporarySnapshot,
  getSlot,
  kuvaszObjectName,
  preflight,
  ReplicationStream,
  relationMapper,
  SlotInUseError,
  SlotLostError,
  syncPublication,
  takeOverSlot,
} from '@kuvasz/replication';
import type { Logger } from 'pino';
import type { SourceConfig } from '../config/load.js';
import type { Metrics } from '../observability/metrics.js';
import { copyRules } from '../rules/table-rules.js';
import type { SyncProgress } from '../ui/progress.js';
import { planBinaryMode } from './binary-mode.js';
import { LagTracker } from './lag-tracker.js';
import type { SyncGate } from './sync-gate.js';
import { toSourceTransaction } from './to-apply.js';

/**
 * In-memory bytes of a large in-progress transaction before the rest spills
 * to disk (os.tmpdir(), TMPDIR). 16 MiB rather than the library's 32: the
 * spilled part is read back at commit from the page cache, and a 2,000,000-row
 * transaction peaked at 173 MB RSS instead of 185 to 197 MB, as fast.
 */
const SPILL_MEMORY_BYTES = 16 * 1024 * 1024;

export type SourceState =
  | 'starting'
  | 'preflight'
  | 'syncing'
  | 'streaming'
  | 'retrying'
  | 'stopped';

export interface SourceSnapshot {
  database: string;
  sid: string;
  slot: string;
  state: SourceState;
  lastError: { message: string; kind: string; at: string } | undefined;
  receivedLsn: bigint | undefined;
  flushedLsn: bigint | undefined;
  lagSeconds: number;
  retries: number;
}

export interface RunnerDeps {
  engine: ApplyEngine;
  copySync: CopySync;
  /** Turns for creating a slot and copying, shared by the process's sources (`sync.parallel_sources`). */
  syncGate?: SyncGate;
  metrics: Metrics;
  progress: SyncProgress;
  log: Logger;
  /** Called whenever the state or the last error changes (status table, readiness). */
  onChange?: (snapshot: SourceSnapshot) => void;
  /** In a fleet: a write of this source was fenced off (another instance holds its lease now). */
  onLeaseLost?: (source: SourceId) => void;
}

/** How one run of a source is held: in a fleet, the lease it runs under. */
export interface RunOptions {
  /** Checked by every destination write of the copy (the engine's are fenced by claimSource). */
  fence?: LeaseFence;
}

/** A write refused by the fence: the lease is gone, retrying would only fail again. */
function fencedOff(e: unknown): boolean {
  if (e instanceof SyncFailedError) return e.failures.some((f) => isLeaseLost(f));
  return (e instanceof ApplyError && e.code === 'lease_lost') || isLeaseLost(e);
}

/** Which step failed, for the errors metric and the status. */
type Kind = 'connect' | 'preflight' | 'slot' | 'sync' | 'stream' | 'apply';

class StepError extends Error {
  constructor(
    readonly kind: Kind,
    readonly inner: unknown,
  ) {
    super(inner instanceof Error ? inner.message : String(inner));
  }
}

async function step<T>(kind: Kind, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err: unknown) {
    throw err instanceof StepError ? err : new StepError(kind, err);
  }
}

/**
 * One (database, url) of the configuration, from preflight to the stream,
 * supervised: any failure is logged, shown in the status, and retried with
 * capped backoff while the other sources go on.
 */
export class SourceRunner {
  readonly id: SourceId;
  readonly slot: string;
  private state: SourceState = 'starting';
  private lastError: SourceSnapshot['lastError'];
  private retries = 0;
  private stream: ReplicationStream | undefined;
  private readonly lag = new LagTracker();
  private readonly log: Logger;
  private fence: LeaseFence | undefined;
  private takeOver = false;

  constructor(
    private readonly cfg: SourceConfig,
    private readonly deps: RunnerDeps,
  ) {
    this.id = { database: cfg.database, sid: cfg.sid };
    this.slot = kuvaszObjectName(cfg.database, cfg.sid);
    this.log = deps.log.child({ database: cfg.database, sid: cfg.sid });
  }

  snapshot(): SourceSnapshot {
    return {
      database: this.cfg.database,
      sid: this.cfg.sid,
      slot: this.slot,
      state: this.state,
      lastError: this.lastError,
      receivedLsn: this.stream?.receivedLsn,
      flushedLsn: this.stream?.flushedLsn,
      lagSeconds: this.lag.seconds(),
      retries: this.retries,
    };
  }

  private setState(state: SourceState): void {
    if (this.state === state) return;
    this.state = state;
    this.deps.metrics.sourceUp.set(this.id, state === 'streaming' ? 1 : 0);
    this.deps.onChange?.(this.snapshot());
  }

  /** Runs until `signal` aborts (or, in a fleet, its lease is lost); never throws. */
  async run(signal: AbortSignal, options: RunOptions = {}): Promise<void> {
    const backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });
    this.fence = options.fence;
    // Just taken over: a walsender of the instance that had it may still hold the slot.
    this.takeOver = options.fence !== undefined;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        await this.session(signal);
      } catch (err: unknown) {
        if (signal.aborted) break;
        const kind = err instanceof StepError ? err.kind : 'stream';
        const inner = err instanceof StepError ? err.inner : err;
        if (fencedOff(inner)) {
          this.log.warn({ err: inner }, 'source fenced off: another instance holds its lease now');
          this.deps.onLeaseLost?.(this.id);
          break;
        }
        this.retries++;
        this.lastError = {
          message: err instanceof Error ? err.message : String(err),
          kind,
          at: new Date().toISOString(),
        };
        this.deps.metrics.errors.inc({ ...this.id, kind });
        // A session that streamed for a while was healthy: start the backoff over.
        if (Date.now() - started > 60_000) backoff.reset();
        const wait = inner instanceof SlotLostError ? 300_000 : backoff.next();
        this.log.error({ err: inner, kind, retryInMs: wait }, `source failed (${kind}); retrying`);
        this.setState('retrying');
        this.deps.onChange?.(this.snapshot());
        await sleep(wait, signal);
      }
    }
    this.setState('stopped');
  }

  private async session(signal: AbortSignal): Promise<void> {
    const { engine, copySync } = this.deps;
    const url = this.cfg.url;
    const tables = this.cfg.tables.map((t) => ({
      schema: t.source.schema,
      table: t.source.table,
      partitionsRegex: t.partitionsRegex,
    }));

    this.setState('preflight');
    const report = await step('preflight', () =>
      preflight({
        connectionString: url,
        tables,
        publication: this.slot,
        slot: this.slot,
        logger: this.log,
      }),
    );
    for (const w of report.warnings) this.log.warn({ code: w.code }, w.message);
    await step('preflight', async () => assertPreflight(report));

    const pub = await step('preflight', () =>
      syncPublication(url, this.slot, tables, { logger: this.log }),
    );
    if (pub.created || pub.added.length > 0 || pub.removed.length > 0) {
      this.log.info(
        {
          created: pub.created,
          added: pub.added.map(displayName),
          removed: pub.removed.map(displayName),
        },
        'publication synced',
      );
    }
    for (const removed of pub.removed) await step('sync', () => copySync.forget(this.id, removed));

    const specs: TableSpec[] = this.cfg.tables.map((t) => ({
      source: t.source,
      target: t.target,
      type: t.type,
      ...(t.rules ? { rows: copyRules(t.rules, this.cfg.sid) } : {}),
    }));
    let created: CreatedSlot | undefined;
    if (this.takeOver) {
      const pid = await step('slot', () => takeOverSlot(url, this.slot));
      if (pid !== undefined) {
        this.log.warn(
          { slot: this.slot, pid },
          'took the slot over from the walsender that still held it (the instance that had the lease before)',
        );
      }
      this.takeOver = false;
    }
    const existing = await step('slot', () => getSlot(url, this.slot));
    if (signal.aborted) return;
    let endTurn: (() => void) | undefined;
    try {
      this.setState('syncing');
      if (!existing) {
        endTurn = await this.syncTurn(signal);
        if (!endTurn) return;
        created = await step('slot', () =>
          createSlotWithSnapshot({ connectionString: url, slot: this.slot, logger: this.log }),
        );
        this.log.info(
          { slot: this.slot, consistentPoint: formatLsn(created.consistentPoint) },
          'slot created; copying tables',
        );
        // A new slot: every table is copied again in its snapshot, whatever an earlier slot left.
        await step('sync', () => copySync.forget(this.id));
        const snap = created;
        await this.copy(specs, signal, { name: snap.snapshotName, lsn: snap.consistentPoint });
      } else {
        await step('slot', async () => assertSlotUsable(existing, this.describe()));
        const state = await step('sync', () => copySync.state(this.id));
        const done = new Set(
          state.filter((s) => s.status === 'done').map((s) => tableKey(s.table)),
        );
        const todo = specs.filter((s) => !done.has(tableKey(s.source)));
        if (todo.length > 0) {
          this.log.info(
            { tables: todo.map((t) => displayName(t.source)) },
            'copying tables added to the configuration (stream paused)',
          );
          endTurn = await this.syncTurn(signal);
          if (!endTurn) return;
          await this.copy(todo, signal, undefined);
        }
      }
      // The turn ends with the copy; the release in finally (for errors) is then a no-op.
      endTurn?.();
      if (signal.aborted) return;

      for (const s of await step('sync', () => copySync.state(this.id))) {
        engine.setTableWatermark(this.id, s.table, {
          skipBefore: s.skipBefore,
          ...(s.reconcileBefore !== undefined ? { reconcileBefore: s.reconcileBefore } : {}),
        });
      }
      engine.resumeSource(this.id);
      await this.streamChanges(
        signal,
        created,
        pub.aliases.length > 0 ? relationMapper(pub.aliases) : undefined,
      );
    } finally {
      endTurn?.();
      await created?.release();
    }
  }

  /**
   * Waits for a turn to create a slot and copy (`sync.parallel_sources`),
   * saying so when it has to wait. Undefined when stopped while waiting.
   */
  private async syncTurn(signal: AbortSignal): Promise<(() => void) | undefined> {
    const gate = this.deps.syncGate;
    if (!gate) return () => undefined;
    try {
      return await gate.acquire(signal, () =>
        this.log.info(
          { copying: gate.copying, waiting: gate.waiting + 1, parallelSources: gate.limit },
          'waiting for a sync turn (sync.parallel_sources)',
        ),
      );
    } catch (e) {
      if (signal.aborted) return undefined;
      throw e;
    }
  }

  private async copy(
    specs: TableSpec[],
    signal: AbortSignal,
    snapshot: { name: string; lsn: bigint } | undefined,
  ): Promise<void> {
    const { copySync, metrics, progress } = this.deps;
    const seen = new Map<string, { rows: number; bytes: number }>();
    await step('sync', () =>
      copySync.syncSource({
        source: { connectionString: this.cfg.url, database: this.cfg.database, sid: this.cfg.sid },
        ...(snapshot ? { snapshot } : {}),
        acquireSnapshot: async () => {
          const tmp = await createTemporarySnapshot(this.cfg.url, { logger: this.log });
          return { name: tmp.snapshotName, lsn: tmp.lsn, release: () => tmp.release() };
        },
        tables: specs,
        signal,
        ...(this.fence ? { fence: this.fence } : {}),
        onProgress: (p) => {
          const labels = { ...this.id, table: p.table };
          const before = seen.get(p.table) ?? { rows: 0, bytes: 0 };
          metrics.syncRows.inc(labels, Math.max(0, p.rows - before.rows));
          metrics.syncBytes.inc(labels, Math.max(0, p.bytes - before.bytes));
          seen.set(p.table, { rows: p.rows, bytes: p.bytes });
          progress.update({
            label: `${this.cfg.sid}/${p.table}`,
            rows: p.rows,
            bytes: p.bytes,
            chunksDone: p.chunksDone,
            chunksTotal: p.chunksTotal,
            bytesPerSecond: p.bytesPerSecond,
            done: p.done,
          });
        },
      }),
    );
  }

  private async streamChanges(
    signal: AbortSignal,
    createdSlot: CreatedSlot | undefined,
    mapRelation:
      | ((r: { schema: string; table: string }) => { schema: string; table: string } | undefined)
      | undefined,
  ): Promise<void> {
    const { engine } = this.deps;
    const binary = this.cfg.binary
      ? await step('preflight', () => planBinaryMode(this.cfg.url, this.slot, this.log))
      : undefined;
    const stream = new ReplicationStream({
      connectionString: this.cfg.url,
      slot: this.slot,
      publication: this.slot,
      ...(createdSlot ? { createdSlot } : {}),
      ...(mapRelation ? { mapRelation } : {}),
      // Heartbeats come from the health monitor, only for slots that need them (no connection per source).
      heartbeat: { intervalMs: 0 },
      spill: { memoryBytes: SPILL_MEMORY_BYTES },
      // Rows stay bytes from the socket to apply's COPY payloads (no string per value):
      // inserts, updates whose key did not change, deletes by key.
      wireRows: true,
      ...(binary ? { binary: true, binaryText: binary.decoders } : {}),
      logger: this.log,
    });
    this.stream = stream;
    const off = engine.onDurable((src, lsn) => {
      if (src.database !== this.id.database || src.sid !== this.id.sid) return;
      stream.ack(lsn);
      this.deps.metrics.transactions.inc(this.id, this.lag.durable(lsn));
    });
    const stop = () => {
      void engine
        .flush(this.id)
        .catch(() => undefined)
        .finally(() => stream.close());
    };
    signal.addEventListener('abort', stop, { once: true });
    // A rejected change may be the last message of a quiet source: the engine's failure
    // ends the stream at once (no waiting for the next message), so the source reports it
    // and retries from its durable position.
    const offFailed = engine.onSourceFailed((src) => {
      if (src.database === this.id.database && src.sid === this.id.sid)
        void stream.close().catch(() => undefined);
    });
    try {
      await step('stream', () => stream.start());
      this.setState('streaming');
      this.log.info({ slot: this.slot }, 'streaming');
      // Explicit next(): a `break` out of for-await would call return(), closing
      // the stream before the final flush could be acknowledged on it.
      // Per part, the log object and its LSN text are made only when they are logged.
      const debug = this.log.isLevelEnabled('debug');
      while (!signal.aborted) {
        const next = await stream.next();
        if (next.done) break;
        const part = next.value;
        if (debug)
          this.log.debug(
            {
              commitLsn: formatLsn(part.commitLsn),
              changes: part.changes.length,
              final: part.final,
            },
            'part received',
          );
        if (part.final) this.lag.pushed(part.endLsn, part.commitTime);
        await step('apply', () => engine.push(toSourceTransaction(this.id, part, binary)));
        const st = engine.sourceStatus(this.id);
        if (st.state === 'failed') throw new StepError('apply', st.error);
      }
      const st = engine.sourceStatus(this.id);
      if (st.state === 'failed') throw new StepError('apply', st.error);
    } catch (err: unknown) {
      if (err instanceof StepError) throw err;
      throw new StepError(err instanceof SlotInUseError ? 'slot' : 'stream', err);
    } finally {
      offFailed();
      signal.removeEventListener('abort', stop);
      // Whatever happened, what was applied gets acknowledged before the connection closes.
      await engine.flush(this.id).catch(() => undefined);
      await stream.close().catch(() => undefined);
      off();
      this.lag.clear();
      this.stream = undefined;
    }
  }

  private describe(): string {
    return `source ${this.cfg.database} (sid ${this.cfg.sid})`;
  }
}
