/**
 * Benchmark 5: many tenants. N tenant databases on one source server (the
 * multi-tenant consolidation use case), a light load spread over all of them
 * (single-row insert transactions, `mtime = clock_timestamp()` just before
 * COMMIT), consumed by kuvasz-streamer (one `databases` entry with N URLs,
 * into one shared table with `sid`) and, in the same run, by N native
 * subscriptions (one publication per tenant database, one subscription per
 * tenant into a destination database of its own). For each N: time from
 * start to every tenant copied, commit-to-visible latency (`applied_at`, a
 * destination-only column `DEFAULT clock_timestamp()`, minus `mtime`), the
 * CPU of the source server, of the destination server and of the streamer
 * during the load, and the streamer's CPU at idle.
 */
import { type PgCluster, startPostgres } from '@kuvasz/testkit';
import type pg from 'pg';
import type { BenchSizes } from './config.js';
import {
  CpuMeter,
  isWalSender,
  processCpuSeconds,
  serverCpuSeconds,
  serverCpuSecondsByKind,
} from './cpu.js';
import { noteVersion } from './machine.js';
import { cli, StreamerProcess, writeConfig } from './streamer-process.js';
import type { TenantsPoint, TenantsResult } from './types.js';
import { BENCH_SETTINGS, fmt, percentile, say, sleep, until } from './util.js';

const WARMUP_S = 2;
const IDLE_S = 10;

const SOURCE_DDL = (rows: number) => `
CREATE TABLE orders (id bigserial PRIMARY KEY, tenant int NOT NULL, amount int NOT NULL,
                     note text NOT NULL, mtime timestamptz NOT NULL DEFAULT now());
INSERT INTO orders (tenant, amount, note) SELECT 0, g % 1000, 'seed' FROM generate_series(1, ${rows}) g;
CREATE PUBLICATION native_pub FOR TABLE orders;`;

const COLUMNS = `id bigint NOT NULL, tenant int NOT NULL, amount int NOT NULL, note text NOT NULL,
  mtime timestamptz NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp()`;

/**
 * Single-row insert transactions at `rate` per second over all tenants, round
 * robin, one connection per tenant database (the same for both systems).
 */
class TenantLoad {
  private timer: NodeJS.Timeout | undefined;
  private issued = 0;
  private inFlight = new Set<Promise<unknown>>();
  private readonly tails: Promise<unknown>[] = [];
  done = 0;
  errors = 0;
  private startedAt = 0;
  private stoppedAt = 0;

  constructor(
    private readonly clients: pg.Client[],
    private readonly rate: number,
    private readonly tag: string,
  ) {}

  start(): void {
    this.startedAt = performance.now();
    this.timer = setInterval(() => {
      const due = Math.floor(((performance.now() - this.startedAt) / 1000) * this.rate);
      while (this.issued < due) {
        const i = this.issued++;
        const k = i % this.clients.length;
        const c = this.clients[k]!;
        // One query at a time per connection: chained behind the tenant's previous one.
        const q = (this.tails[k] ?? Promise.resolve())
          .then(() =>
            c.query(
              'INSERT INTO orders (tenant, amount, note, mtime) VALUES ($1, $2, $3, clock_timestamp())',
              [k, i % 1000, this.tag],
            ),
          )
          .then(
            () => {
              this.done++;
            },
            () => {
              this.errors++;
            },
          );
        this.tails[k] = q;
        this.inFlight.add(q);
        void q.finally(() => this.inFlight.delete(q));
      }
    }, 5);
  }

  async stop(): Promise<{ seconds: number; achieved: number }> {
    clearInterval(this.timer);
    this.stoppedAt = performance.now();
    await Promise.all(this.inFlight);
    const seconds = (this.stoppedAt - this.startedAt) / 1000;
    return { seconds, achieved: this.done / seconds };
  }
}

/** Latencies (ms) at source commit times `t` (s): percentiles and flatness, the first WARMUP_S left out. */
function summarize(
  base: Omit<
    TenantsPoint,
    'samples' | 'p50Ms' | 'p99Ms' | 'maxMs' | 'earlyP50Ms' | 'lateP50Ms' | 'sustained'
  >,
  rows: { ms: number; t: number }[],
): TenantsPoint {
  rows.sort((a, b) => a.t - b.t);
  const t0 = (rows[0]?.t ?? 0) + WARMUP_S;
  const kept = rows.filter((r) => r.t >= t0);
  const q = Math.max(1, Math.floor(kept.length / 4));
  const sorted = (xs: { ms: number }[]) => xs.map((r) => r.ms).sort((a, b) => a - b);
  const all = sorted(kept);
  const point: TenantsPoint = {
    ...base,
    samples: all.length,
    p50Ms: percentile(all, 50),
    p99Ms: percentile(all, 99),
    maxMs: all.at(-1) ?? Number.NaN,
    earlyP50Ms: percentile(sorted(kept.slice(0, q)), 50),
    lateP50Ms: percentile(sorted(kept.slice(-q)), 50),
    sustained: false,
  };
  point.sustained = isFlatTenants(point);
  return point;
}

/** The last quarter's median within twice the first's (+50 ms), every row in within 5 s of the end. */
export function isFlatTenants(p: TenantsPoint): boolean {
  return p.lateP50Ms <= 2 * p.earlyP50Ms + 50 && p.drainSeconds <= 5;
}

const LATENCY_SQL = `SELECT (extract(epoch FROM applied_at - mtime) * 1000)::float8 AS ms,
  extract(epoch FROM mtime)::float8 AS t FROM orders WHERE note = $1`;

async function connectAll(cluster: PgCluster, dbs: string[]): Promise<pg.Client[]> {
  const clients: pg.Client[] = [];
  for (let i = 0; i < dbs.length; i += 20) {
    clients.push(...(await Promise.all(dbs.slice(i, i + 20).map((db) => cluster.connect(db)))));
  }
  for (const c of clients) c.on('error', () => {});
  return clients;
}

async function endAll(clients: pg.Client[]): Promise<void> {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
}

/** Runs `fn` over `items` with at most `n` at once. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

interface Phase {
  tenants: number;
  sourceDbs: string[];
  sourceClients: pg.Client[];
  tag: string;
  /** The source server's data directory (for the CPU breakdown). */
  dataDir: string | undefined;
}

export async function benchTenants(
  sizes: BenchSizes,
): Promise<TenantsResult & { problems: string[] }> {
  const most = Math.max(...sizes.tenants);
  const limits = {
    max_connections: 2 * most + 100,
    max_wal_senders: most + 20,
    max_replication_slots: most + 20,
  };
  const s = await startPostgres({ version: 17, settings: { ...BENCH_SETTINGS, ...limits } });
  const d = await startPostgres({
    version: 17,
    settings: {
      ...BENCH_SETTINGS,
      ...limits,
      max_logical_replication_workers: most + 20,
      max_worker_processes: most + 40,
    },
  });
  await Promise.all([noteVersion(s), noteVersion(d)]);
  const problems: string[] = [];
  const points: TenantsPoint[] = [];
  const sourceCpu = new CpuMeter(() => serverCpuSeconds(s.dataDir));
  const destCpu = new CpuMeter(() => serverCpuSeconds(d.dataDir));
  const walSenderCpu = new CpuMeter(() => serverCpuSeconds(s.dataDir, isWalSender));
  try {
    say(`tenants: ${most} tenant databases of ${fmt(sizes.tenantRows)} rows`);
    const tmpl = await s.createDatabase('tenant_tmpl');
    await s.sql(SOURCE_DDL(sizes.tenantRows), [], tmpl);
    const sourceDbs: string[] = [];
    for (let i = 1; i <= most; i++) {
      const db = `tenant${i}`;
      await s.sql(`CREATE DATABASE ${db} TEMPLATE ${tmpl}`);
      sourceDbs.push(db);
    }
    const dwh = await d.createDatabase('warehouse');
    await d.sql(
      `CREATE TABLE orders (sid text NOT NULL, ${COLUMNS}, PRIMARY KEY (sid, id))`,
      [],
      dwh,
    );
    const nativeTmpl = await d.createDatabase('native_tmpl');
    await d.sql(`CREATE TABLE orders (${COLUMNS}, PRIMARY KEY (id))`, [], nativeTmpl);
    const nativeDbs: string[] = [];
    for (let i = 1; i <= most; i++) {
      const db = `native${i}`;
      await d.sql(`CREATE DATABASE ${db} TEMPLATE ${nativeTmpl}`);
      nativeDbs.push(db);
    }

    for (const n of sizes.tenants) {
      const sourceClients = await connectAll(s, sourceDbs.slice(0, n));
      try {
        const phase = (system: string): Phase => ({
          tenants: n,
          sourceDbs: sourceDbs.slice(0, n),
          sourceClients,
          tag: `load ${system} ${n}`,
          dataDir: s.dataDir,
        });
        points.push(
          await oursAt(
            s,
            d,
            dwh,
            phase('kuvasz'),
            sizes,
            { sourceCpu, destCpu, walSenderCpu },
            problems,
          ),
        );
        if (sizes.fleetTenants.includes(n) && sizes.fleetInstances > 1) {
          const k = sizes.fleetInstances;
          points.push(
            await oursAt(
              s,
              d,
              dwh,
              phase(`fleet ${k}`),
              sizes,
              { sourceCpu, destCpu, walSenderCpu },
              problems,
              k,
            ),
          );
        }
        points.push(
          await nativeAt(s, d, nativeDbs.slice(0, n), phase('native'), sizes, {
            sourceCpu,
            destCpu,
            walSenderCpu,
          }),
        );
        // The next N copies the same tables: drop this phase's load rows from the sources.
        await Promise.all(
          sourceClients.map((c) => c.query("DELETE FROM orders WHERE note <> 'seed'")),
        );
      } finally {
        await endAll(sourceClients);
      }
    }
    return {
      version: s.version,
      rate: sizes.tenantRate,
      seconds: sizes.tenantSeconds,
      tenantRows: sizes.tenantRows,
      points,
      problems,
    };
  } finally {
    await s.stop();
    await d.stop();
  }
}

interface Meters {
  sourceCpu: CpuMeter;
  destCpu: CpuMeter;
  /** The source's WAL senders alone (part of `sourceCpu`). */
  walSenderCpu: CpuMeter;
}

const currentLsn = async (c: pg.Client): Promise<bigint> => {
  const r = await c.query<{ b: string }>(
    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS b",
  );
  return BigInt(r.rows[0]?.b.split('.')[0] ?? '0');
};

/** The load for `tenantSeconds`, with CPU measured over it; then the wait until `count()` has every row. */
async function loadAndDrain(
  phase: Phase,
  sizes: BenchSizes,
  meters: Meters,
  count: () => Promise<number>,
  extra?: CpuMeter,
) {
  const load = new TenantLoad(phase.sourceClients, sizes.tenantRate, phase.tag);
  const c0 = phase.sourceClients[0]!;
  const wal0 = await currentLsn(c0);
  const kinds0 = process.env.KUVASZ_BENCH_TENANT_KINDS
    ? serverCpuSecondsByKind(phase.dataDir)
    : undefined;
  meters.sourceCpu.start();
  meters.destCpu.start();
  meters.walSenderCpu.start();
  extra?.start();
  load.start();
  await sleep(sizes.tenantSeconds * 1000);
  const { achieved } = await load.stop();
  const cpu = {
    sourceCpu: meters.sourceCpu.stop(),
    destCpu: meters.destCpu.stop(),
    walSenderCpu: meters.walSenderCpu.stop(),
    streamerCpu: extra?.stop(),
  };
  const walBytes = Number((await currentLsn(c0)) - wal0);
  if (kinds0) {
    const rows = [...serverCpuSecondsByKind(phase.dataDir)]
      .map(([k, v]) => [k, v - (kinds0.get(k) ?? 0)] as const)
      .filter(([, v]) => v > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8);
    say(
      `${phase.tag}: source CPU s by process kind: ${rows.map(([k, v]) => `${k} ${fmt(v, 2)}`).join(', ')}`,
    );
  }
  say(
    `${phase.tag}: source WAL senders ${fmt(cpu.walSenderCpu, 2)} of ${fmt(cpu.sourceCpu, 2)} cores, ${fmt(walBytes / 1e6, 1)} MB of WAL written during the load`,
  );
  const drainMs = await until(async () => (await count()) >= load.done, {
    timeoutMs: 600_000,
    intervalMs: 100,
    what: `every row of ${phase.tag}`,
  });
  return { achieved, errors: load.errors, drainSeconds: drainMs / 1000, ...cpu };
}

async function oursAt(
  s: PgCluster,
  d: PgCluster,
  dwh: string,
  phase: Phase,
  sizes: BenchSizes,
  meters: Meters,
  problems: string[],
  instances = 1,
): Promise<TenantsPoint> {
  const n = phase.tenants;
  const system: TenantsPoint['system'] =
    instances > 1 ? `kuvasz-streamer x${instances} (fleet)` : 'kuvasz-streamer';
  const config = writeConfig(
    `tenants-${n}-${instances}.yaml`,
    `destination: { url: "${d.urlFor(dwh)}" }
databases:
  - database: app
    urls:
${phase.sourceDbs.map((db, i) => `      - { url: "${s.urlFor(db)}", sid: t${i + 1} }`).join('\n')}
    tables:
      orders: { type: append }
${process.env.KUVASZ_BENCH_TENANT_APPLY ? `apply: ${process.env.KUVASZ_BENCH_TENANT_APPLY}\n` : ''}${instances > 1 ? 'fleet: { enabled: true }\n' : ''}`,
  );
  say(`tenants ${n}: ${system} copies`);
  const t0 = performance.now();
  const procs = Array.from({ length: instances }, () => new StreamerProcess(config));
  try {
    // In a fleet each instance streams its share: done once they stream n between them.
    await until(async () => procs.reduce((a, x) => a + x.count('streaming'), 0) >= n, {
      timeoutMs: 900_000,
      intervalMs: 20,
      what: `${system} streaming ${n} sources`,
    });
    const copySeconds = (performance.now() - t0) / 1000;
    say(`tenants ${n}: ${system} copied in ${fmt(copySeconds, 1)} s; load`);
    const cpuOfAll = () => procs.reduce((a, x) => a + processCpuSeconds(x.pid), 0);
    const m = await loadAndDrain(
      phase,
      sizes,
      meters,
      async () =>
        (
          await d.sql<{ n: number }>(
            'SELECT count(*)::int AS n FROM orders WHERE note = $1',
            [phase.tag],
            dwh,
          )
        )[0]?.n ?? 0,
      new CpuMeter(cpuOfAll),
    );
    await sleep(2_000);
    const idle = new CpuMeter(cpuOfAll);
    const sourceIdle = new CpuMeter(() => serverCpuSeconds(s.dataDir));
    idle.start();
    sourceIdle.start();
    await sleep(IDLE_S * 1000);
    const idleCpu = idle.stop();
    const sourceIdleCpu = sourceIdle.stop();
    const rows = await d.sql<{ ms: number; t: number }>(LATENCY_SQL, [phase.tag], dwh);
    const point = summarize(
      pointBase(system, n, copySeconds, sizes, m, { idleCpu, sourceIdleCpu }),
      rows.map((r) => ({ ms: Number(r.ms), t: Number(r.t) })),
    );
    report(point);
    return point;
  } finally {
    await Promise.all(procs.map((x) => x.stop()));
    for (const x of procs)
      for (const problem of x.problems()) problems.push(`tenants ${n} ${system}: ${problem}`);
    cli(['teardown', '-c', config, '--yes']);
    await d.sql('TRUNCATE orders; DROP SCHEMA IF EXISTS kuvasz CASCADE', [], dwh);
  }
}

async function nativeAt(
  s: PgCluster,
  d: PgCluster,
  dbs: string[],
  phase: Phase,
  sizes: BenchSizes,
  meters: Meters,
): Promise<TenantsPoint> {
  const n = phase.tenants;
  say(`tenants ${n}: native subscriptions copy`);
  const dest = await connectAll(d, dbs);
  try {
    const t0 = performance.now();
    await pool(
      dest.map((c, i) => ({ c, i })),
      8,
      async ({ c, i }) => {
        await c.query(
          `CREATE SUBSCRIPTION native_sub${i + 1} CONNECTION '${s.urlFor(phase.sourceDbs[i]!)}' PUBLICATION native_pub`,
        );
      },
    );
    const pending = new Set(dest);
    await until(
      async () => {
        for (const c of [...pending]) {
          const r = await c.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_subscription_rel WHERE srsubstate <> 'r'",
          );
          if (r.rows[0]?.n === 0) pending.delete(c);
        }
        return pending.size === 0;
      },
      { timeoutMs: 900_000, intervalMs: 100, what: `${n} native subscriptions to copy` },
    );
    const copySeconds = (performance.now() - t0) / 1000;
    say(`tenants ${n}: native copied in ${fmt(copySeconds, 1)} s; load`);
    const count = async () => {
      let total = 0;
      for (const c of dest) {
        const r = await c.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM orders WHERE note = $1',
          [phase.tag],
        );
        total += r.rows[0]?.n ?? 0;
      }
      return total;
    };
    const m = await loadAndDrain(phase, sizes, meters, count);
    await sleep(2_000);
    const sourceIdle = new CpuMeter(() => serverCpuSeconds(s.dataDir));
    sourceIdle.start();
    await sleep(IDLE_S * 1000);
    const sourceIdleCpu = sourceIdle.stop();
    const rows: { ms: number; t: number }[] = [];
    for (const c of dest) {
      const r = await c.query<{ ms: number; t: number }>(LATENCY_SQL, [phase.tag]);
      for (const x of r.rows) rows.push({ ms: Number(x.ms), t: Number(x.t) });
    }
    const point = summarize(
      pointBase('native', n, copySeconds, sizes, m, { idleCpu: undefined, sourceIdleCpu }),
      rows,
    );
    report(point);
    return point;
  } finally {
    await pool(
      dest.map((c, i) => ({ c, i })),
      8,
      async ({ c, i }) => {
        await c.query(`DROP SUBSCRIPTION IF EXISTS native_sub${i + 1}`);
        await c.query('TRUNCATE orders');
      },
    );
    await endAll(dest);
  }
}

type Measured = Awaited<ReturnType<typeof loadAndDrain>>;

function pointBase(
  system: TenantsPoint['system'],
  tenants: number,
  copySeconds: number,
  sizes: BenchSizes,
  m: Measured,
  idle: { idleCpu: number | undefined; sourceIdleCpu: number },
): Parameters<typeof summarize>[0] {
  return {
    system,
    tenants,
    copySeconds,
    rate: sizes.tenantRate,
    achieved: m.achieved,
    drainSeconds: m.drainSeconds,
    sourceCpu: m.sourceCpu,
    destCpu: m.destCpu,
    streamerCpu: m.streamerCpu,
    ...idle,
  };
}

function report(p: TenantsPoint): void {
  say(
    `tenants ${p.tenants} ${p.system}: copied in ${fmt(p.copySeconds, 1)} s, ${fmt(p.achieved)}/s, p50 ${fmt(p.p50Ms, 1)} ms, p99 ${fmt(p.p99Ms, 1)} ms, source CPU ${fmt(p.sourceCpu, 2)} cores (idle ${fmt(p.sourceIdleCpu, 2)}), destination ${fmt(p.destCpu, 2)}${p.streamerCpu !== undefined ? `, streamer ${fmt(p.streamerCpu, 2)} (idle ${fmt((p.idleCpu ?? 0) * 100, 1)} %)` : ''}${p.sustained ? '' : ' (lag not flat)'}`,
  );
}
