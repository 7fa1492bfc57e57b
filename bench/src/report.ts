import { isFlat, sourceLimited } from './bench-latency.js';
import { isFlatTenants } from './bench-tenants.js';
import type { BenchResults, CatchUpRow, LatencyPoint, TenantsPoint } from './types.js';
import { fmt } from './util.js';

const mb = (b: number) => `${fmt(b / 1e6)} MB`;
const yes = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'yes' : '**no**');

function at(r: BenchResults, system: LatencyPoint['system'], rate: number) {
  return r.latency?.points.find((p) => p.system === system && p.rate === rate);
}

function highestSustained(r: BenchResults, system: LatencyPoint['system']): string {
  const pts = (r.latency?.points ?? []).filter((p) => p.system === system);
  if (pts.length === 0) return 'not run';
  const flat = pts.filter(isFlat);
  const top = (xs: LatencyPoint[]) => Math.max(...xs.map((p) => p.achieved));
  if (flat.length === pts.length)
    return `flat at every rate run, up to ${fmt(top(pts))} row changes/s achieved${pts.some(sourceLimited) ? ' (where pgbench itself topped out on this machine)' : ''}`;
  if (flat.length === 0) return 'flat at none of the rates';
  return `flat up to ${fmt(top(flat))} row changes/s achieved`;
}

/** Peak RSS over every measurement of the streamer in the run. */
export function peakRss(r: BenchResults): number | undefined {
  const all = [
    r.memory?.peakRssBytes,
    r.sync?.peakRssBytes,
    ...(r.catchup?.rows.map((c) => c.peakRssBytes) ?? []),
  ].filter((x): x is number => typeof x === 'number' && x > 0);
  return all.length > 0 ? Math.max(...all) : undefined;
}

/** Per tenant count: ours and native's point. */
function tenantPairs(r: BenchResults): { n: number; ours: TenantsPoint; native: TenantsPoint }[] {
  const pts = r.tenants?.points ?? [];
  const out: { n: number; ours: TenantsPoint; native: TenantsPoint }[] = [];
  for (const ours of pts.filter((p) => p.system === 'kuvasz-streamer')) {
    const native = pts.find((p) => p.system === 'native' && p.tenants === ours.tenants);
    if (native) out.push({ n: ours.tenants, ours, native });
  }
  return out;
}

function tenantGoals(r: BenchResults): string[] {
  const pairs = tenantPairs(r);
  if (pairs.length === 0)
    return ['| many tenants: p99, source CPU, idle CPU | see section 5 | not run | n/a |'];
  const p99 = pairs.map((p) => p.ours.p99Ms / p.native.p99Ms);
  const cpu = pairs.map((p) => p.ours.sourceCpu / p.native.sourceCpu);
  const top = pairs[pairs.length - 1]!;
  const list = (xs: number[]) => pairs.map((p, i) => `${p.n}: ${xs[i]!.toFixed(2)}x`).join(', ');
  return [
    `| many tenants: p99 at every N | <= 1.5x native's | ${list(p99)} | ${yes(p99.every((x) => x <= 1.5))} |`,
    `| many tenants: source server CPU at every N | <= 1.2x native's | ${list(cpu)} | ${yes(cpu.every((x) => x <= 1.2))} |`,
    `| many tenants: streamer CPU at idle, N = ${top.n} | < 5 % of a core | ${fmt((top.ours.idleCpu ?? 0) * 100, 1)} % | ${yes((top.ours.idleCpu ?? 1) < 0.05)} |`,
  ];
}

function goals(r: BenchResults): string[] {
  const clone = r.catchup?.rows.find((c) => c.type === 'clone' && (c.op ?? 'mixed') === 'mixed');
  const history = r.catchup?.rows.find(
    (c) => c.type === 'history' && (c.op ?? 'mixed') === 'mixed',
  );
  const inserts = r.catchup?.rows.filter((c) => c.type === 'clone' && c.op === 'insert') ?? [];
  const ratios = (rows: CatchUpRow[]) =>
    rows.map((c) => `${c.phase}: ${c.ratio.toFixed(2)}x`).join(', ');
  const ours10k = at(r, 'kuvasz-streamer', 10_000);
  const native10k = at(r, 'native', 10_000);
  const peak = peakRss(r);
  return [
    '| goal | target | measured | met |',
    '| --- | --- | --- | --- |',
    `| initial sync vs ${r.sync?.baselineTool === 'psql-copy' ? 'psql \\copy pipe' : 'pg_dump \\| psql'} | >= 1.0x | ${r.sync ? `${r.sync.ratio.toFixed(2)}x` : 'not run'} | ${yes(r.sync ? r.sync.ratio >= 1 : undefined)} |`,
    `| clone catch-up vs native subscription (mixed backlog) | >= 1.0x | ${clone ? `${clone.ratio.toFixed(2)}x` : 'not run'} | ${yes(clone ? clone.ratio >= 1 : undefined)} |`,
    `| clone catch-up, pure inserts | >= 0.9x | ${inserts.length ? ratios(inserts) : 'not run'} | ${yes(inserts.length ? inserts.every((c) => c.ratio >= 0.9) : undefined)} |`,
    `| history catch-up vs native's plain apply (mixed backlog) | >= 0.6x | ${history ? `${history.ratio.toFixed(2)}x` : 'not run'} | ${yes(history ? history.ratio >= 0.6 : undefined)} |`,
    `| p99 commit-to-visible at 10,000 row changes/s | < 2x native's p99 and < 1 s | ${ours10k && native10k ? `${fmt(ours10k.p99Ms)} ms (native ${fmt(native10k.p99Ms)} ms)` : 'not run at 10,000/s'} | ${yes(ours10k && native10k ? ours10k.p99Ms < 2 * native10k.p99Ms && ours10k.p99Ms < 1000 : undefined)} |`,
    `| streamer peak RSS (large transaction, catch-up, sync) | < 200 MB | ${peak ? mb(peak) : 'not run'}${r.memory?.capped && !r.memory.capped.error ? ` (large transaction with the V8 heap capped at ${r.memory.capped.heapMB} MB: ${mb(r.memory.capped.peakRssBytes)})` : ''} | ${yes(peak ? peak < 200e6 : undefined)} |`,
    ...tenantGoals(r),
  ];
}

/** The results sections shared by bench/results/latest.md and docs/performance.md. */
export function renderResults(r: BenchResults, chartPath: string): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(
    `Run ${m.date.slice(0, 19).replace('T', ' ')} UTC, commit ${m.commit}, scale \`${r.scale}\`, ${fmt(r.durationSeconds / 60, 1)} minutes in all.`,
    '',
    `Machine: ${m.cpus} CPUs (${m.cpuModel}), ${fmt(m.memoryGB, 1)} GB RAM, Node ${m.node}, PostgreSQL ${Object.entries(
      m.pgVersions,
    )
      .map(([, v]) => v)
      .join(
        ' and ',
      )} (embedded binaries from npm, \`fsync=off\`), source, destination, client tools and the streamer all on this one machine. Load average (1/5/15 min) before: ${m.loadBefore.map((x) => x.toFixed(2)).join(' / ')}, after: ${m.loadAfter.map((x) => x.toFixed(2)).join(' / ')}.`,
    '',
    '**The machine is shared with other engineers running their own tests and benchmarks: absolute figures are noisy; read the ratios, measured side by side in the same run.**',
    '',
    `![benchmark chart](${chartPath})`,
    '',
    '## Goals',
    '',
    ...goals(r),
    '',
  );
  if (r.sync) {
    const s = r.sync;
    const base =
      s.baselineTool === 'pg_dump'
        ? '`pg_dump --data-only \\| psql`'
        : '`psql \\copy \\| psql \\copy`';
    out.push(
      `## 1. Initial sync (PostgreSQL ${s.sourceVersion} -> ${s.destVersion})`,
      '',
      `${fmt(s.rows)} rows, ${mb(s.bytes)} of table data (heap + TOAST, without indexes): a pgbench_accounts-like table and a table of 2 KB values. Both copy into empty tables with their primary keys; median of ${s.runs} run(s), order alternated.${s.note ? ` ${s.note}.` : ''}`,
      '',
      '| | seconds | MB/s | rows/s |',
      '| --- | ---: | ---: | ---: |',
      `| kuvasz-streamer (run until streaming) | ${fmt(s.oursSeconds, 1)} | ${fmt(s.oursMBps, 1)} | ${fmt(s.rows / s.oursSeconds)} |`,
      `| ${base} | ${fmt(s.baselineSeconds, 1)} | ${fmt(s.baselineMBps, 1)} | ${fmt(s.rows / s.baselineSeconds)} |`,
      `| **ratio** | | **${s.ratio.toFixed(2)}x** | |`,
      '',
    );
  }
  if (r.catchup) {
    out.push(
      `## 2. Catch-up of a backlog (PostgreSQL ${r.catchup.version} -> ${r.catchup.version})`,
      '',
      `The backlog piles up while the consumer is away (${r.catchup.transactionRows}-change transactions), one phase at a time, each on its own table, slots and subscription: \`mixed\` is 6 updates, 3 inserts and 1 delete per transaction; the others are one operation only. Targets keyed by \`(sid, id)\` (made by \`plan\`) or by \`id\` alone (the user's own table, the upgrade shape). Timed from resuming (streamer process start / \`ALTER SUBSCRIPTION ... ENABLE\`) until the backlog's last change is visible, polled every 50 ms on one connection by the target's key (\`sid\` and \`id\` for a \`(sid, id)\` target: figures before 2026-12-07 polled by \`id\` alone, a scan of the whole target each time, which understated the \`(sid, id)\` phases). Native replication has no history mode: its row is the same backlog applied as plain changes.`,
      '',
      '| phase | target type | changes | kuvasz-streamer s (after connecting) | kuvasz-streamer rows/s | native s | native rows/s | ratio | streamer peak RSS | streamer CPU per change | CPU s, source / destination: ours, native |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...r.catchup.rows.map(
        (c) =>
          `| ${c.phase ?? 'mixed'} | ${c.type}${c.sid === false ? ', key id' : ', key (sid, id)'}${c.binary ? ', binary mode' : ''} | ${fmt(c.changes)} | ${fmt(c.oursSeconds, 1)} (${fmt(c.oursStreamingSeconds, 1)}) | ${fmt(c.oursRowsPerSec)} | ${fmt(c.nativeSeconds, 1)} | ${fmt(c.nativeRowsPerSec)} | **${c.ratio.toFixed(2)}x** | ${mb(c.peakRssBytes)} | ${c.cpu ? `${fmt(c.cpu.streamerUsPerChange, 1)} us` : ''} | ${c.cpu ? `${fmt(c.cpu.oursSource, 1)} / ${fmt(c.cpu.oursDest, 1)}, ${fmt(c.cpu.nativeSource, 1)} / ${fmt(c.cpu.nativeDest, 1)}` : ''} |`,
      ),
      '',
    );
  }
  if (r.latency) {
    const l = r.latency;
    out.push(
      `## 3. Steady load (PostgreSQL ${l.version} -> ${l.version})`,
      '',
      `pgbench, a TPC-B-like transaction (3 updates + 1 insert = 4 row changes), 8 clients, \`-R\` at each rate for ${l.seconds} s, scale ${l.pgbenchScale}. Latency: destination \`applied_at\` (a target-only column, \`DEFAULT clock_timestamp()\`) minus the source row's \`clock_timestamp()\` taken just before COMMIT; the first 2 s of each rate are left out. "Flat": the last quarter's median latency is not above twice the first quarter's (+50 ms), and the destination held every row within 2 s of pgbench's end. "(short)": pgbench itself produced less than 90% of the rate on this machine (8 clients, source and both consumers on the same 2 cores). kuvasz-streamer runs with its defaults (4 connections, one source on one at a time; a group goes as soon as the previous one is done). "stream only": a slot read in the bench process with \`@kuvasz/replication\`'s stream, nothing applied; its latency is the moment a row reached that reader minus its \`clock_timestamp()\`: the floor under any apply built on the stream.`,
      '',
      '| row changes/s | system | achieved/s | p50 ms | p99 ms | max ms | first / last quarter p50 ms | drained s | flat |',
      '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...[...l.points]
        .sort((a, b) => a.rate - b.rate || a.system.localeCompare(b.system))
        .map(
          (p) =>
            `| ${fmt(p.rate)} | ${p.system} | ${fmt(p.achieved)}${sourceLimited(p) ? ' (short)' : ''} | ${fmt(p.p50Ms, 1)} | ${fmt(p.p99Ms, 1)} | ${fmt(p.maxMs)} | ${fmt(p.earlyP50Ms, 1)} / ${fmt(p.lateP50Ms, 1)} | ${fmt(p.drainSeconds, 1)} | ${isFlat(p) ? 'yes' : '**no**'} |`,
        ),
      '',
      `Lag: kuvasz-streamer ${highestSustained(r, 'kuvasz-streamer')}; native ${highestSustained(r, 'native')}.`,
      '',
    );
  }
  if (r.memory) {
    const mem = r.memory;
    out.push(
      `## 4. Memory (PostgreSQL ${mem.version} -> ${mem.version})`,
      '',
      `Peak RSS (\`VmHWM\` of the streamer process) while one transaction of ${fmt(mem.rows)} rows streams through it (the server's default \`logical_decoding_work_mem\`, so it arrives streamed in progress), and during the catch-ups above.`,
      '',
      '| measurement | peak RSS |',
      '| --- | ---: |',
      `| idle, streaming | ${mb(mem.idleRssBytes)} |`,
      `| ${fmt(mem.rows)}-row transaction (visible ${fmt(mem.applySeconds, 1)} s after its commit) | ${mb(mem.peakRssBytes)} |`,
      ...(mem.capped
        ? [
            mem.capped.error
              ? `| the same with \`NODE_OPTIONS=--max-old-space-size=${mem.capped.heapMB}\` | failed: ${mem.capped.error} |`
              : `| the same with \`NODE_OPTIONS=--max-old-space-size=${mem.capped.heapMB}\` (visible ${fmt(mem.capped.applySeconds, 1)} s after its commit) | ${mb(mem.capped.peakRssBytes)} |`,
          ]
        : []),
      ...(r.catchup?.rows.map(
        (c) => `| catch-up, ${c.phase ?? c.type} | ${mb(c.peakRssBytes)} |`,
      ) ?? []),
      ...(r.sync ? [`| initial sync | ${mb(r.sync.peakRssBytes)} |`] : []),
      '',
    );
  }
  if (r.tenants) {
    const t = r.tenants;
    const pct = (x: number | undefined) => (x === undefined ? '' : `${fmt(x * 100, 1)} %`);
    out.push(
      `## 5. Many tenants (PostgreSQL ${t.version} -> ${t.version})`,
      '',
      `N tenant databases on one source server, each with a ${fmt(t.tenantRows)}-row table, copied and then loaded with ${fmt(t.rate)} single-row insert transactions per second spread over all of them, for ${t.seconds} s. kuvasz-streamer: one \`databases\` entry with N URLs, into one table with \`sid\`, default settings. Native: one publication per tenant database and one subscription per tenant, each into a destination database of its own (N apply workers). Copy: from the streamer's start / the first \`CREATE SUBSCRIPTION\` until every tenant is copied and streaming. CPU in cores (CPU seconds per second) during the load: the whole source server (including the backends of the load itself, the same for both), the whole destination server, the streamer process; idle: the 10 s after the load drained. Latency as in section 3 (first 2 s left out); "flat": the last quarter's median not above twice the first's (+50 ms) and every row in within 5 s of the end. \`kuvasz-streamer x3 (fleet)\`: the same configuration with \`fleet: { enabled: true }\` run by 3 processes that share the sources through leases (docs/fleet.md); CPU is the sum of the three. On this 2-core machine, which also runs both servers, the row measures a fleet's overhead and that it keeps up, not a speed-up.`,
      '',
      '| N | system | copy s | achieved/s | p50 ms | p99 ms | max ms | source CPU | source CPU idle | destination CPU | streamer CPU | streamer idle | flat |',
      '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...[...t.points]
        .sort((a, b) => a.tenants - b.tenants || a.system.localeCompare(b.system))
        .map(
          (p) =>
            `| ${p.tenants} | ${p.system} | ${fmt(p.copySeconds, 1)} | ${fmt(p.achieved)} | ${fmt(p.p50Ms, 1)} | ${fmt(p.p99Ms, 1)} | ${fmt(p.maxMs)} | ${fmt(p.sourceCpu, 2)} | ${fmt(p.sourceIdleCpu, 2)} | ${fmt(p.destCpu, 2)} | ${p.streamerCpu === undefined ? '' : fmt(p.streamerCpu, 2)} | ${pct(p.idleCpu)} | ${isFlatTenants(p) ? 'yes' : '**no**'} |`,
        ),
      '',
    );
  }
  return out.join('\n');
}

export const REPRODUCE = [
  '## Reproduce',
  '',
  '```sh',
  'pnpm install',
  "pnpm bench                           # the issues' sizes: 25 to 30 minutes on 2 cores",
  'KUVASZ_BENCH_SCALE=small pnpm bench  # a quick run (a few minutes), written to bench/results/tmp/',
  '```',
  '',
  'Sizes: `KUVASZ_BENCH_SYNC_ROWS`, `KUVASZ_BENCH_SYNC_WIDE_ROWS`, `KUVASZ_BENCH_CHANGES`, `KUVASZ_BENCH_RATES` (comma-separated row changes/s), `KUVASZ_BENCH_RATE_SECONDS`, `KUVASZ_BENCH_PGBENCH_SCALE`, `KUVASZ_BENCH_BIG_ROWS`, `KUVASZ_BENCH_RUNS` (initial sync repetitions), `KUVASZ_BENCH_TENANTS` (comma-separated tenant counts), `KUVASZ_BENCH_TENANT_RATE`, `KUVASZ_BENCH_TENANT_SECONDS`, `KUVASZ_BENCH_TENANT_ROWS`; `KUVASZ_BENCH_ONLY=sync,catchup,latency,memory,tenants` runs a subset; `KUVASZ_BENCH_CATCHUP=insert-sid,insert-id,...` some catch-up phases (`mixed-clone`, `mixed-history`, `insert-sid`, `insert-id`, `insert-binary` (insert-sid with both consumers in binary mode: `apply.binary`, `binary = true`), `update-sid`, `update-id`, `delete-sid`, `delete-id`, `insert-history`, `update-history`). Only a full run of all five with the default sizes replaces `bench/results/latest.*` and this page. Needs `pg_dump` and `psql` (Debian: `postgresql-client-15`; installed by the bench when missing and run as root) and `pgbench` (Debian: `postgresql-15`); PostgreSQL servers come from `@kuvasz/testkit`. Run it when the machine is quiet (`uptime`).',
  '',
].join('\n');
