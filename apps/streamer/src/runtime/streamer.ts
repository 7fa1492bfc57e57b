import {
  ApplyEngine,
  describeTable,
  type StatEntry,
  type TableMapping,
  TargetError,
} from '@kuvasz/apply';
import { CopySync, RowRateLimit } from '@kuvasz/copy-sync';
import { displayName, type LeaseFence, tableKey } from '@kuvasz/core';
import pg from 'pg';
import type { Logger } from 'pino';
import { targetsOf } from '../commands/targets.js';
import type { Config } from '../config/load.js';
import type { Redactor } from '../config/secrets.js';
import { Fleet } from '../fleet/fleet.js';
import { LeaseStore, sourceKey } from '../fleet/lease-store.js';
import type { Metrics } from '../observability/metrics.js';
import { rowRules } from '../rules/table-rules.js';
import { SyncProgress } from '../ui/progress.js';
import { HealthMonitor } from './source-health.js';
import { SourceRunner, type SourceSnapshot } from './source-runner.js';
import { collectStatus, type StatusDocument } from './status-document.js';
import { type SourceHealth, StatusStore, type TableStat } from './status-store.js';
import { SyncGate } from './sync-gate.js';

const HEALTH_INTERVAL_MS = 10_000;

/** What `demo` reads of a running streamer (the status document is `statusDocument()`). */
export interface StreamerStatus {
  sources: (SourceSnapshot & { health: SourceHealth | undefined })[];
  tables: StatEntry[];
}

/** Every (database, url) mapping of a target table, deduplicated per database. */
export function tableMappings(cfg: Config): TableMapping[] {
  const seen = new Set<string>();
  const out: TableMapping[] = [];
  for (const s of cfg.sources) {
    for (const t of s.tables) {
      const k = `${s.database}\u0000${tableKey(t.source)}`;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push({
        source: { database: s.database, ...t.source },
        target: t.target,
        type: t.type,
        schemaChanges: t.schemaChanges,
        ...(t.rules ? { rows: rowRules(t.rules) } : {}),
      });
    }
  }
  return out;
}

export function destinationPool(cfg: Config, extra = 0): pg.Pool {
  return new pg.Pool({
    connectionString: cfg.destination.url,
    // Apply workers, copy writers (one per parallel table plus staging merges), status and slack.
    max: cfg.apply.workers + cfg.sync.parallelTables * 2 + 4 + extra,
    application_name: 'kuvasz-streamer',
  });
}

/**
 * The whole pipeline of one configuration: one destination pool, one apply
 * engine shared by every source, and a supervised runner per source.
 */
export class Streamer {
  readonly pool: pg.Pool;
  readonly engine: ApplyEngine;
  private readonly copySync: CopySync;
  private readonly runners: SourceRunner[];
  /** Runners streaming now (all of them, or in a fleet those whose lease this instance holds). */
  private readonly active = new Map<
    SourceRunner,
    { controller: AbortController; done: Promise<void> }
  >();
  private readonly fleet: Fleet | undefined;
  private readonly leases: LeaseStore | undefined;
  private readonly status: StatusStore;
  private readonly health = new Map<SourceRunner, SourceHealth>();
  private healthTimer: NodeJS.Timeout | undefined;
  private readonly healthMonitor: HealthMonitor;
  private statsSeen = new Map<string, number>();
  private statsSaved = new Map<string, number>();
  private readonly statusWrites = new Map<string, Promise<void>>();

  constructor(
    private readonly cfg: Config,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    progressOut: NodeJS.WriteStream | undefined,
  ) {
    this.pool = destinationPool(cfg);
    this.pool.on('error', (err) => log.warn({ err }, 'idle destination connection failed'));
    this.engine = new ApplyEngine({
      destination: this.pool,
      metadataSchema: cfg.destination.metadataSchema,
      tables: tableMappings(cfg),
      workers: cfg.apply.workers,
      batchRows: cfg.apply.batchRows,
      flushIntervalMs: cfg.apply.flushIntervalMs,
      logger: log,
    });
    this.copySync = new CopySync({
      destination: this.pool,
      metadataSchema: cfg.destination.metadataSchema,
      parallelTables: cfg.sync.parallelTables,
      // One bucket for every copy of the process: sync.rows_per_second is global.
      rateLimit: cfg.sync.rate ? new RowRateLimit(cfg.sync.rate) : undefined,
      logger: log,
    });
    this.status = new StatusStore(this.pool, cfg.destination.metadataSchema);
    const progress = new SyncProgress(progressOut, log, cfg.sync.rate?.rowsPerSecond);
    const syncGate = new SyncGate(cfg.sync.parallelSources);
    this.runners = cfg.sources.map(
      (s) =>
        new SourceRunner(s, {
          engine: this.engine,
          copySync: this.copySync,
          syncGate,
          metrics,
          progress,
          log,
          // In a fleet only the lease holder writes a source's status row (else a stopping
          // instance could overwrite the new owner's state with its own 'stopped').
          onChange: (snap) => {
            if (!this.fleet || this.fleet.holds(snap)) void this.saveStatus(snap);
          },
          onLeaseLost: (id) => this.fleet?.lost(id),
        }),
    );
    const fleet = cfg.fleet;
    if (fleet) {
      this.leases = new LeaseStore(this.pool, cfg.destination.metadataSchema, async () => {
        const c = new pg.Client({
          connectionString: cfg.destination.url,
          application_name: 'kuvasz-streamer fleet',
        });
        c.on('error', () => undefined);
        await c.connect();
        return c;
      });
      this.fleet = new Fleet(
        fleet,
        this.leases,
        this.runners.map((r) => r.id),
        {
          start: (id, fence) => this.startRunner(this.runner(id), fence),
          stop: (id) => this.stopRunner(this.runner(id)),
        },
        log,
        metrics,
      );
    }
    this.healthMonitor = new HealthMonitor(
      this.runners.map((r, i) => ({
        label: `${r.id.database} (sid ${r.id.sid})`,
        url: cfg.sources[i]!.url,
        slot: r.slot,
      })),
      log,
    );
  }

  /** Starts the engine (validating every target table) and every source. */
  async start(): Promise<void> {
    await this.assertSidColumns();
    await this.engine.start();
    // In a fleet, sources start as their leases are taken.
    if (this.fleet) await this.fleet.start();
    else for (const r of this.runners) await this.startRunner(r, undefined);
    this.healthTimer = setInterval(() => void this.pollHealth(), HEALTH_INTERVAL_MS);
    this.healthTimer.unref();
    void this.pollHealth();
  }

  /**
   * The engine knows source databases, not their urls: several sids of one
   * database writing into a target without `sid` would mix their rows.
   */
  private async assertSidColumns(): Promise<void> {
    const problems: string[] = [];
    for (const use of targetsOf(this.cfg)) {
      if (use.feeds.length < 2) continue;
      const desc = await describeTable(this.pool, use.target);
      if (desc && !desc.columns.some((c) => c.name === 'sid')) {
        problems.push(
          `target ${displayName(use.target)} receives rows from several sources (sid ${use.feeds.map((f) => f.sid).join(', ')}) but has no sid column; add one (ALTER TABLE ${displayName(use.target)} ADD COLUMN sid text NOT NULL) and include it in the primary key`,
        );
      }
    }
    if (problems.length > 0) throw new TargetError(problems);
  }

  private runner(id: { database: string; sid: string }): SourceRunner {
    const r = this.runners.find((x) => x.id.database === id.database && x.id.sid === id.sid);
    if (!r) throw new Error(`no source ${id.database} (sid ${id.sid}) in the configuration`);
    return r;
  }

  /** Starts streaming a source; in a fleet, claimed first at the lease's epoch (fenced writes). */
  private async startRunner(r: SourceRunner, fence: LeaseFence | undefined): Promise<void> {
    if (this.active.has(r)) return;
    if (fence) await this.engine.claimSource(r.id, fence);
    const controller = new AbortController();
    const done = r.run(controller.signal, fence ? { fence } : {});
    this.active.set(r, { controller, done });
  }

  /**
   * Stops a source: the runner flushes and acknowledges what it received. After a
   * lost lease that flush fails fast at the fence (nothing of it is written).
   */
  private async stopRunner(r: SourceRunner): Promise<void> {
    const a = this.active.get(r);
    if (!a) return;
    a.controller.abort();
    await a.done;
    this.active.delete(r);
    if (this.fleet) {
      try {
        this.engine.releaseSource(r.id);
      } catch (err: unknown) {
        this.log.debug({ err }, 'releasing a source of an engine that stopped');
      }
    }
  }

  /** Sources with changes received but not yet applied and acknowledged, `database (sid N)`. */
  unflushed(): string[] {
    const out: string[] = [];
    for (const r of this.active.keys()) {
      const snap = r.snapshot();
      const queued = this.engine.sourceStatus(r.id).queuedChanges > 0;
      const behind =
        snap.receivedLsn !== undefined &&
        (snap.flushedLsn === undefined || snap.flushedLsn < snap.receivedLsn);
      if (queued || behind) out.push(`${r.id.database} (sid ${r.id.sid})`);
    }
    return out;
  }

  /** Ready when every source this instance streams (in a fleet: holds the lease of) streams. */
  ready(): boolean {
    return [...this.active.keys()].every((r) => r.snapshot().state === 'streaming');
  }

  snapshot(): StreamerStatus {
    return {
      sources: this.runners.map((r) => ({ ...r.snapshot(), health: this.health.get(r) })),
      tables: this.engine.stats(),
    };
  }

  /** The status document (/api/status): this process's sources and counters over what the destination holds. */
  statusDocument(redactor: Redactor): Promise<StatusDocument> {
    return collectStatus({
      cfg: this.cfg,
      redactor,
      store: this.status,
      copy: this.copySync,
      health: new Map(
        this.runners.flatMap((r) => {
          const h = this.health.get(r);
          return h ? [[r.slot, h] as const] : [];
        }),
      ),
      live: [...this.active.keys()].map((r) => r.snapshot()),
      unsavedStats: this.unsavedStats(),
      ...(this.fleet && this.leases ? { fleet: this.fleet.view(), leases: this.leases } : {}),
    });
  }

  /** What the engine applied since the last save of the counters. */
  private unsavedStats(): TableStat[] {
    const deltas: TableStat[] = [];
    for (const e of this.engine.stats()) {
      const k = `${e.database}\u0000${e.sid}\u0000${e.table}\u0000${e.operation}\u0000${e.result}`;
      const delta = e.count - (this.statsSaved.get(k) ?? 0);
      if (delta > 0) deltas.push({ ...e, count: delta });
    }
    return deltas;
  }

  /** Copies the engine's counters into Prometheus (called at scrape time). */
  syncOperationMetrics(): void {
    for (const e of this.engine.stats() as StatEntry[]) {
      const k = `${e.database}\u0000${e.sid}\u0000${e.table}\u0000${e.operation}\u0000${e.result}`;
      const delta = e.count - (this.statsSeen.get(k) ?? 0);
      if (delta > 0) {
        this.metrics.operations.inc(
          {
            database: e.database,
            sid: e.sid,
            table: e.table,
            operation: e.operation,
            result: e.result,
          },
          delta,
        );
        this.statsSeen.set(k, e.count);
      }
    }
    for (const r of this.active.keys()) this.metrics.lagSeconds.set(r.id, r.snapshot().lagSeconds);
  }

  private async pollHealth(): Promise<void> {
    const healths = await this.healthMonitor.poll();
    await Promise.all(
      [...this.active.keys()].map(async (r) => {
        const h = healths.get(r.slot);
        if (h) {
          this.health.set(r, h);
          if (h.lagBytes !== null) this.metrics.lagBytes.set(r.id, Number(h.lagBytes));
          if (h.retainedWalBytes !== null)
            this.metrics.retainedWal.set({ ...r.id, slot: r.slot }, Number(h.retainedWalBytes));
        }
        await this.saveStatus(r.snapshot());
      }),
    );
    await this.saveTableStats();
  }

  /** Adds what the engine applied since the last save to the destination's counters. */
  private async saveTableStats(): Promise<void> {
    const deltas = this.unsavedStats();
    try {
      await this.status.saveTableStats(deltas);
      for (const d of deltas) {
        const k = `${d.database}\u0000${d.sid}\u0000${d.table}\u0000${d.operation}\u0000${d.result}`;
        this.statsSaved.set(k, (this.statsSaved.get(k) ?? 0) + d.count);
      }
    } catch (err: unknown) {
      this.log.debug({ err }, 'could not record the table counters in the destination');
    }
  }

  /**
   * Writes of one source run one after the other: a source that fails fast
   * changes state within milliseconds, and concurrent upserts could land out
   * of order, leaving an older state (without the error) in the status.
   */
  private saveStatus(snap: SourceSnapshot): Promise<void> {
    const k = sourceKey(snap);
    const next = (this.statusWrites.get(k) ?? Promise.resolve()).then(() => this.writeStatus(snap));
    this.statusWrites.set(k, next);
    return next;
  }

  private async writeStatus(snap: SourceSnapshot): Promise<void> {
    const runner = this.runners.find(
      (r) => r.id.database === snap.database && r.id.sid === snap.sid,
    );
    try {
      await this.status.save(snap, runner ? this.health.get(runner) : undefined);
    } catch (err: unknown) {
      this.log.debug({ err }, 'could not record the status in the destination');
    }
  }

  /** Stops reading, flushes, acknowledges, closes. */
  async stop(): Promise<void> {
    if (this.healthTimer) clearInterval(this.healthTimer);
    const stopped = [...this.active.keys()];
    // A fleet hands every source over (flushed, acknowledged, lease released) and leaves.
    if (this.fleet) await this.fleet.close();
    else await Promise.all(stopped.map((r) => this.stopRunner(r)));
    await this.engine
      .close()
      .catch((err: unknown) => this.log.warn({ err }, 'closing the apply engine failed'));
    // A fleet's hand-overs saved theirs while they still held the leases.
    if (!this.fleet) await Promise.all(stopped.map((r) => this.saveStatus(r.snapshot())));
    await this.saveTableStats();
    await this.healthMonitor.close();
    await this.pool.end().catch(() => undefined);
  }
}
