/**
 * Sizes of every benchmark. `KUVASZ_BENCH_SCALE=small` is a quick run (a
 * couple of minutes); the default is the sizes. Each size can be set
 * on its own too.
 */
export interface BenchSizes {
  scale: 'full' | 'small';
  /** Initial sync: rows of the pgbench_accounts-like table (~125 bytes a row). */
  syncRows: number;
  /** Initial sync: rows of the wide table (2 KB of text each, stored in TOAST). */
  syncWideRows: number;
  /** Catch-up: row changes in the backlog (per table type). */
  backlogChanges: number;
  /** Steady load: target rates in row changes per second (a TPC-B transaction changes 4 rows). */
  rates: number[];
  /** Steady load: seconds per rate and system. */
  rateSeconds: number;
  /** Steady load: pgbench scale (100,000 accounts each). */
  pgbenchScale: number;
  /** Memory: rows of the single large transaction. */
  bigTxRows: number;
  /** Many tenants: tenant databases on one source server, one run per count. */
  tenants: number[];
  /** Many tenants: the counts also run by a fleet of `fleetInstances` instances (1 vs 3 on the same workload). */
  fleetTenants: number[];
  fleetInstances: number;
  /** Many tenants: insert transactions per second over all tenants, for `tenantSeconds`. */
  tenantRate: number;
  tenantSeconds: number;
  /** Many tenants: rows of each tenant's table before the start (copied). */
  tenantRows: number;
  /** Which benchmarks run (all by default). */
  only: Set<BenchName>;
}

export type BenchName = 'sync' | 'catchup' | 'latency' | 'memory' | 'tenants';
export const ALL_BENCHES: BenchName[] = ['sync', 'catchup', 'latency', 'memory', 'tenants'];

function num(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v.replaceAll('_', ''));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive number`);
  return n;
}

export function readSizes(env: NodeJS.ProcessEnv = process.env): BenchSizes {
  const scale = env.KUVASZ_BENCH_SCALE === 'small' ? 'small' : 'full';
  if (env.KUVASZ_BENCH_SCALE && !['small', 'full'].includes(env.KUVASZ_BENCH_SCALE))
    throw new Error(`KUVASZ_BENCH_SCALE=${env.KUVASZ_BENCH_SCALE}: expected small or full`);
  const small = scale === 'small';
  const rates = env.KUVASZ_BENCH_RATES
    ? env.KUVASZ_BENCH_RATES.split(',').map((r) => Number(r.trim()))
    : small
      ? [2_000, 10_000]
      : [2_000, 5_000, 10_000, 15_000, 20_000, 30_000];
  if (rates.some((r) => !Number.isFinite(r) || r <= 0))
    throw new Error(`KUVASZ_BENCH_RATES=${env.KUVASZ_BENCH_RATES}: expected numbers`);
  const tenants = env.KUVASZ_BENCH_TENANTS
    ? env.KUVASZ_BENCH_TENANTS.split(',').map((r) => Number(r.trim()))
    : small
      ? [10, 50]
      : [10, 50, 100, 200];
  if (tenants.some((r) => !Number.isInteger(r) || r <= 0))
    throw new Error(`KUVASZ_BENCH_TENANTS=${env.KUVASZ_BENCH_TENANTS}: expected whole numbers`);
  // A fleet on one machine measures its overhead and correctness, not a speed-up: one count by default.
  const fleetTenants = env.KUVASZ_BENCH_FLEET_TENANTS
    ? env.KUVASZ_BENCH_FLEET_TENANTS.split(',')
        .map((r) => Number(r.trim()))
        .filter((n) => n > 0)
    : [tenants.includes(50) ? 50 : tenants[0]!];
  if (fleetTenants.some((r) => !Number.isInteger(r) || !tenants.includes(r)))
    throw new Error(
      `KUVASZ_BENCH_FLEET_TENANTS=${env.KUVASZ_BENCH_FLEET_TENANTS}: expected some of the tenant counts ${tenants.join(',')}, or 0 for none`,
    );
  const only = env.KUVASZ_BENCH_ONLY
    ? new Set(env.KUVASZ_BENCH_ONLY.split(',').map((s) => s.trim() as BenchName))
    : new Set(ALL_BENCHES);
  for (const b of only)
    if (!ALL_BENCHES.includes(b))
      throw new Error(`KUVASZ_BENCH_ONLY: unknown benchmark ${b}; use ${ALL_BENCHES.join(',')}`);
  return {
    scale,
    // ~0.9 GB of heap plus ~0.1 GB of TOAST by default.
    syncRows: num('KUVASZ_BENCH_SYNC_ROWS', small ? 300_000 : 7_000_000),
    syncWideRows: num('KUVASZ_BENCH_SYNC_WIDE_ROWS', small ? 5_000 : 50_000),
    backlogChanges: num('KUVASZ_BENCH_CHANGES', small ? 100_000 : 1_000_000),
    rates,
    rateSeconds: num('KUVASZ_BENCH_RATE_SECONDS', small ? 8 : 30),
    pgbenchScale: num('KUVASZ_BENCH_PGBENCH_SCALE', small ? 2 : 10),
    bigTxRows: num('KUVASZ_BENCH_BIG_ROWS', small ? 200_000 : 2_000_000),
    tenants,
    fleetTenants,
    fleetInstances: num('KUVASZ_BENCH_FLEET_INSTANCES', 3),
    tenantRate: num('KUVASZ_BENCH_TENANT_RATE', 500),
    tenantSeconds: num('KUVASZ_BENCH_TENANT_SECONDS', small ? 8 : 20),
    tenantRows: num('KUVASZ_BENCH_TENANT_ROWS', small ? 1_000 : 5_000),
    only,
  };
}
