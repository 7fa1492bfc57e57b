export interface SyncResult {
  sourceVersion: number;
  destVersion: number;
  /** Heap + TOAST of the source tables (no indexes). */
  bytes: number;
  rows: number;
  baselineTool: 'pg_dump' | 'psql-copy';
  note: string;
  runs: number;
  oursSeconds: number;
  baselineSeconds: number;
  oursMBps: number;
  baselineMBps: number;
  /** ours / baseline throughput: > 1 means faster than the baseline. */
  ratio: number;
  peakRssBytes: number;
}

export interface CatchUpRow {
  type: 'clone' | 'history';
  /** The phase's name (`mixed-clone`, `insert-id`, ...; see bench-catchup.ts). Older results lack it. */
  phase?: string;
  op?: 'mixed' | 'insert' | 'update' | 'delete';
  /** The target is keyed by (sid, id); false: by id alone. */
  sid?: boolean;
  /** Both consumers read the source in pgoutput's binary mode. */
  binary?: boolean;
  changes: number;
  /** From the process start (startup, preflight and connection included). */
  oursSeconds: number;
  /** From the streamer's `streaming` line (connected to the slot). */
  oursStreamingSeconds: number;
  nativeSeconds: number;
  oursRowsPerSec: number;
  nativeRowsPerSec: number;
  ratio: number;
  peakRssBytes: number;
  /** CPU seconds while each system caught up (servers whole, the streamer process alone). Older results lack it. */
  cpu?: {
    streamerUsPerChange: number;
    oursSource: number;
    oursDest: number;
    nativeSource: number;
    nativeDest: number;
  };
}

export interface CatchUpResult {
  version: number;
  transactionRows: number;
  rows: CatchUpRow[];
}

export interface LatencyPoint {
  /** `kuvasz-streamer`, `native`, or the streamer with a non-default setting. */
  system: string;
  /** Target row changes per second. */
  rate: number;
  /** What pgbench achieved, in row changes per second. */
  achieved: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Median latency of the first and the last quarter of the window. */
  earlyP50Ms: number;
  lateP50Ms: number;
  /** Seconds until the destination held every row once pgbench ended. */
  drainSeconds: number;
  /** Lag stayed flat: see `isFlat`. */
  sustained: boolean;
}

export interface LatencyResult {
  version: number;
  seconds: number;
  pgbenchScale: number;
  points: LatencyPoint[];
}

export interface MemoryResult {
  version: number;
  rows: number;
  idleRssBytes: number;
  peakRssBytes: number;
  applySeconds: number;
  /** The same transaction with the streamer's V8 heap capped (NODE_OPTIONS=--max-old-space-size). */
  capped:
    | { heapMB: number; peakRssBytes: number; applySeconds: number; error?: string }
    | undefined;
  catchUpPeakRssBytes: number | undefined;
}

/** A latency point of the many-tenants benchmark: the steady-load figures, plus copy time and CPU. */
export interface TenantsPoint extends Omit<LatencyPoint, 'system'> {
  /** 'kuvasz-streamer x3 (fleet)': the same configuration run by a fleet of instances. */
  system: 'kuvasz-streamer' | 'native' | `kuvasz-streamer x${number} (fleet)`;
  tenants: number;
  /** From the streamer's start / the first CREATE SUBSCRIPTION until every tenant is copied and streaming. */
  copySeconds: number;
  /** CPU during the load, in cores (CPU seconds per second): the source server, the destination server. */
  sourceCpu: number;
  destCpu: number;
  /** The source server with no load (walsenders, health queries, heartbeats). */
  sourceIdleCpu: number;
  /** kuvasz-streamer only: the process during the load, and at idle. */
  streamerCpu: number | undefined;
  idleCpu: number | undefined;
}

export interface TenantsResult {
  version: number;
  rate: number;
  seconds: number;
  tenantRows: number;
  points: TenantsPoint[];
}

export interface Machine {
  date: string;
  cpus: number;
  cpuModel: string;
  memoryGB: number;
  node: string;
  loadBefore: number[];
  loadAfter: number[];
  pgVersions: Record<string, string>;
  commit: string;
}

export interface BenchResults {
  scale: string;
  machine: Machine;
  durationSeconds: number;
  sync?: SyncResult;
  catchup?: CatchUpResult;
  latency?: LatencyResult;
  memory?: MemoryResult;
  tenants?: TenantsResult;
}
