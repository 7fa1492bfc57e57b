/**
 * Benchmark 3: steady load. pgbench runs a TPC-B-like transaction (3
 * updates and 1 insert: 4 row changes) at fixed rates (`-R`); the insert
 * stamps `mtime = clock_timestamp()` right before COMMIT, and the
 * destination's `pgbench_history` has a column of its own, `applied_at
 * timestamptz DEFAULT clock_timestamp()`, filled when the row is applied.
 * `applied_at - mtime` is the commit-to-visible latency (one machine, one
 * clock). Ours runs every rate first (subscription disabled), then native
 * (streamer stopped).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type PgCluster, startPostgres } from '@kuvasz/testkit';
import type { BenchSizes } from './config.js';
import { noteVersion } from './machine.js';
import { cli, StreamerProcess, writeConfig } from './streamer-process.js';
import type { LatencyPoint, LatencyResult } from './types.js';
import { BENCH_SETTINGS, fmt, one, percentile, say, sh, until } from './util.js';

const CHANGES_PER_TX = 4;
const WARMUP_S = 2;
/** The extra pass: a worker flushes as soon as it is free (the floor the pipeline itself sets). */
const TUNED_FLUSH_MS = Number(process.env.KUVASZ_BENCH_TUNED_FLUSH_MS ?? 1);

const TARGET_DDL = `
CREATE TABLE pgbench_accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
CREATE TABLE pgbench_tellers (tid int PRIMARY KEY, bid int, tbalance int, filler char(84));
CREATE TABLE pgbench_branches (bid int PRIMARY KEY, bbalance int, filler char(88));
CREATE TABLE pgbench_history (hid bigint PRIMARY KEY, tid int, bid int, aid int, delta int,
                              mtime timestamp, filler char(22),
                              applied_at timestamptz NOT NULL DEFAULT clock_timestamp());`;

const SCRIPT = `\\set aid random(1, 100000 * :scale)
\\set bid random(1, 1 * :scale)
\\set tid random(1, 10 * :scale)
\\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, clock_timestamp());
END;
`;

async function maxHid(c: PgCluster, db: string): Promise<string> {
  return (
    await one<{ h: string }>(c, db, 'SELECT coalesce(max(hid), 0)::text AS h FROM pgbench_history')
  ).h;
}

async function historyCount(c: PgCluster, db: string, from: string, to: string): Promise<number> {
  return Number(
    (
      await one<{ n: string }>(
        c,
        db,
        'SELECT count(*)::text AS n FROM pgbench_history WHERE hid > $1::bigint AND hid <= $2::bigint',
        [from, to],
      )
    ).n,
  );
}

/** The last quarter's median within twice the first's (+50 ms), and every row in within 2 s of the end. */
export function isFlat(p: LatencyPoint): boolean {
  return p.lateP50Ms <= 2 * p.earlyP50Ms + 50 && p.drainSeconds <= 2;
}

/** pgbench could not produce the rate on this machine (under 90% of it). */
export function sourceLimited(p: LatencyPoint): boolean {
  return p.achieved < 0.9 * p.rate;
}

export async function benchLatency(
  sizes: BenchSizes,
): Promise<LatencyResult & { problems: string[] }> {
  const s = await startPostgres({ version: 17, settings: BENCH_SETTINGS });
  const d = await startPostgres({ version: 17, settings: BENCH_SETTINGS });
  await Promise.all([noteVersion(s), noteVersion(d)]);
  const problems: string[] = [];
  const script = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kvsz-bench-')), 'tpcb.sql');
  fs.writeFileSync(script, SCRIPT);
  try {
    const src = await s.createDatabase('lat');
    const ours = await d.createDatabase('lat_ours');
    const native = await d.createDatabase('lat_native');
    say(`latency: pgbench -i -s ${sizes.pgbenchScale}`);
    await sh(`pgbench -i -q -s ${sizes.pgbenchScale} '${s.urlFor(src)}'`);
    await s.sql('ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY', [], src);
    await d.sql(TARGET_DDL, [], ours);
    await d.sql(TARGET_DDL, [], native);

    await s.sql(
      'CREATE PUBLICATION lat_native FOR TABLE pgbench_accounts, pgbench_tellers, pgbench_branches, pgbench_history',
      [],
      src,
    );
    await d.sql(
      `CREATE SUBSCRIPTION lat_native CONNECTION '${s.urlFor(src)}' PUBLICATION lat_native WITH (copy_data = true)`,
      [],
      native,
    );
    await until(
      async () =>
        (await d.sql("SELECT 1 FROM pg_subscription_rel WHERE srsubstate <> 'r'", [], native))
          .length === 0,
      { timeoutMs: 600_000, what: 'the native initial sync' },
    );
    await d.sql('ALTER SUBSCRIPTION lat_native DISABLE', [], native);

    const config = writeConfig(
      'latency.yaml',
      `destination: { url: "${d.urlFor(ours)}" }
databases:
  - database: lat
    urls: [{ url: "${s.urlFor(src)}", sid: 1 }]
    tables:
      pgbench_accounts:
      pgbench_tellers:
      pgbench_branches:
      pgbench_history: { type: append }
`,
    );
    const points: LatencyPoint[] = [];
    const phase = async (system: string, db: string, rate: number) => {
      const tps = Math.max(1, Math.round(rate / CHANGES_PER_TX));
      const from = await maxHid(s, src);
      const out = await sh(
        `pgbench -n -f '${script}' -s ${sizes.pgbenchScale} -R ${tps} -T ${sizes.rateSeconds} -c 8 -j 2 '${s.urlFor(src)}'`,
      );
      const to = await maxHid(s, src);
      const achievedTps = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? 0);
      const sourceRows = await historyCount(s, src, from, to);
      const drainMs = await until(
        async () => (await historyCount(d, db, from, to)) === sourceRows,
        {
          timeoutMs: 600_000,
          intervalMs: 100,
          what: `${system} to apply the ${rate}/s phase`,
        },
      );
      const rows = await d.sql<{ ms: number; t: number }>(
        `SELECT (extract(epoch FROM applied_at - (mtime AT TIME ZONE 'UTC')) * 1000)::float8 AS ms,
                extract(epoch FROM mtime)::float8 AS t
           FROM pgbench_history WHERE hid > $1::bigint AND hid <= $2::bigint ORDER BY mtime`,
        [from, to],
        db,
      );
      const t0 = (rows[0]?.t ?? 0) + WARMUP_S;
      const kept = rows.filter((r) => r.t >= t0);
      const q = Math.max(1, Math.floor(kept.length / 4));
      const sorted = (xs: { ms: number }[]) => xs.map((r) => Number(r.ms)).sort((a, b) => a - b);
      const all = sorted(kept);
      const early = percentile(sorted(kept.slice(0, q)), 50);
      const late = percentile(sorted(kept.slice(-q)), 50);
      const achieved = achievedTps * CHANGES_PER_TX;
      const point: LatencyPoint = {
        system,
        rate,
        achieved,
        samples: all.length,
        p50Ms: percentile(all, 50),
        p99Ms: percentile(all, 99),
        maxMs: all.at(-1) ?? Number.NaN,
        earlyP50Ms: early,
        lateP50Ms: late,
        drainSeconds: drainMs / 1000,
        sustained: false,
      };
      point.sustained = isFlat(point);
      points.push(point);
      say(
        `latency ${system} ${fmt(rate)}/s (achieved ${fmt(achieved)}): p50 ${fmt(point.p50Ms, 1)} ms, p99 ${fmt(point.p99Ms, 1)} ms, early/late p50 ${fmt(early, 1)}/${fmt(late, 1)} ms, drained in ${fmt(point.drainSeconds, 1)} s${point.sustained ? '' : ' (lag not flat)'}${sourceLimited(point) ? ' (pgbench fell short of the rate)' : ''}`,
      );
    };

    say('latency: kuvasz-streamer initial sync');
    const p = new StreamerProcess(config);
    try {
      await p.streaming(1, 600_000);
      for (const rate of sizes.rates) await phase('kuvasz-streamer', ours, rate);
    } finally {
      await p.stop();
    }
    for (const problem of p.problems()) problems.push(`latency: ${problem}`);

    // The flush interval (at most 20 ms by default) bounds how long a change may wait for its batch;
    // one more pass at 10,000/s (or the highest rate below it) shows what is left without it.
    const tunedRate = Math.max(...sizes.rates.filter((r) => r <= 10_000), sizes.rates[0] ?? 10_000);
    const tunedConfig = writeConfig(
      'latency-tuned.yaml',
      fs.readFileSync(config, 'utf8').concat(`apply: { flush_interval_ms: ${TUNED_FLUSH_MS} }\n`),
    );
    const tuned = new StreamerProcess(tunedConfig);
    try {
      await tuned.streaming(1, 600_000);
      await phase(`kuvasz-streamer, flush_interval_ms ${TUNED_FLUSH_MS}`, ours, tunedRate);
    } finally {
      await tuned.stop();
    }
    for (const problem of tuned.problems()) problems.push(`latency (tuned): ${problem}`);

    say('latency: native subscription catching up before its phases');
    await d.sql('ALTER SUBSCRIPTION lat_native ENABLE', [], native);
    const all = await maxHid(s, src);
    await until(
      async () =>
        (await historyCount(d, native, '0', all)) === (await historyCount(s, src, '0', all)),
      {
        timeoutMs: 1_800_000,
        intervalMs: 500,
        what: 'the native subscription to catch up',
      },
    );
    for (const rate of sizes.rates) await phase('native', native, rate);

    await d.sql('DROP SUBSCRIPTION lat_native', [], native);
    cli(['teardown', '-c', config, '--yes']);
    return {
      version: s.version,
      seconds: sizes.rateSeconds,
      pgbenchScale: sizes.pgbenchScale,
      points,
      problems,
    };
  } finally {
    await s.stop();
    await d.stop();
  }
}
