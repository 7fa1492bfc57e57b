/**
 * Benchmark 3: steady load. pgbench runs a TPC-B-like transaction (3
 * updates and 1 insert: 4 row changes) at fixed rates (`-R`); the insert
 * stamps `mtime = clock_timestamp()` right before COMMIT, and the
 * destination's `pgbench_history` has a column of its own, `applied_at
 * timestamptz DEFAULT clock_timestamp()`, filled when the row is applied.
 * `applied_at - mtime` is the commit-to-visible latency (one machine, one
 * clock). Ours runs every rate first (subscription disabled), then native
 * (streamer stopped). One more pass at 10,000/s reads a slot with
 * @kuvasz/replication's stream in this process and applies nothing: its
 * latency (the row's delivery to us minus `mtime`) is what receiving and
 * decoding alone cost, the floor under any apply built on that stream.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ReplicationStream } from '@kuvasz/replication';
import { type PgCluster, startPostgres } from '@kuvasz/testkit';
import type { BenchSizes } from './config.js';
import { noteVersion } from './machine.js';
import { cli, StreamerProcess, writeConfig } from './streamer-process.js';
import type { LatencyPoint, LatencyResult } from './types.js';
import { BENCH_SETTINGS, fmt, one, percentile, say, sh, until } from './util.js';

const CHANGES_PER_TX = 4;
const WARMUP_S = 2;

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

/** Percentiles and flatness of latencies (ms) sampled at times `t` (s), the first WARMUP_S left out. */
function summarize(
  system: string,
  rate: number,
  achieved: number,
  rows: { ms: number; t: number }[],
  drainSeconds: number,
): LatencyPoint {
  const t0 = (rows[0]?.t ?? 0) + WARMUP_S;
  const kept = rows.filter((r) => r.t >= t0);
  const q = Math.max(1, Math.floor(kept.length / 4));
  const sorted = (xs: { ms: number }[]) => xs.map((r) => Number(r.ms)).sort((a, b) => a - b);
  const all = sorted(kept);
  const point: LatencyPoint = {
    system,
    rate,
    achieved,
    samples: all.length,
    p50Ms: percentile(all, 50),
    p99Ms: percentile(all, 99),
    maxMs: all.at(-1) ?? Number.NaN,
    earlyP50Ms: percentile(sorted(kept.slice(0, q)), 50),
    lateP50Ms: percentile(sorted(kept.slice(-q)), 50),
    drainSeconds,
    sustained: false,
  };
  point.sustained = isFlat(point);
  return point;
}

/** `timestamp` text in UTC ('2026-11-22 10:00:00.123456') as epoch milliseconds, microseconds kept. */
function utcMs(text: string): number {
  const [whole, frac = ''] = text.split('.');
  return Date.parse(`${whole!.replace(' ', 'T')}Z`) + Number(`0.${frac.padEnd(6, '0')}`) * 1000;
}

/**
 * The stream-only pass: a slot read with ReplicationStream while pgbench
 * runs; each pgbench_history insert's latency is the moment its transaction
 * reached us minus its `mtime` (UTC, microseconds, from the source's clock:
 * one machine).
 */
async function streamOnly(
  s: PgCluster,
  src: string,
  run: () => Promise<{ achieved: number; rows: number }>,
  rate: number,
): Promise<LatencyPoint> {
  await s.sql("SELECT pg_create_logical_replication_slot('lat_floor', 'pgoutput')", [], src);
  const stream = new ReplicationStream({
    connectionString: s.urlFor(src),
    slot: 'lat_floor',
    publication: 'lat_native',
  });
  const rows: { ms: number; t: number }[] = [];
  let expected = Number.POSITIVE_INFINITY;
  let seen = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => {
    done = r;
  });
  const reader = (async () => {
    for await (const part of stream) {
      const now = performance.timeOrigin + performance.now();
      for (const c of part.changes) {
        if (c.kind !== 'insert' || c.relation.name !== 'pgbench_history') continue;
        const i = c.relation.columns.findIndex((col) => col.name === 'mtime');
        const mtime = utcMs(String(c.new[i]));
        rows.push({ ms: now - mtime, t: mtime / 1000 });
        seen++;
      }
      if (part.final) stream.ack(part.endLsn);
      if (seen >= expected) done();
    }
  })();
  try {
    const { achieved, rows: n } = await run();
    expected = n;
    if (seen >= expected) done();
    await Promise.race([
      all,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('the stream-only reader fell behind by 60 s')), 60_000),
      ),
    ]);
    rows.sort((a, b) => a.t - b.t);
    return summarize('stream only (received + decoded, nothing applied)', rate, achieved, rows, 0);
  } finally {
    await stream.close();
    await reader.catch(() => {});
    await s.sql("SELECT pg_drop_replication_slot('lat_floor')", [], src);
  }
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
    /** pgbench at `rate` row changes/s: the new history rows' range, and what pgbench achieved. */
    const pgbench = async (rate: number) => {
      const tps = Math.max(1, Math.round(rate / CHANGES_PER_TX));
      const from = await maxHid(s, src);
      const out = await sh(
        `pgbench -n -f '${script}' -s ${sizes.pgbenchScale} -R ${tps} -T ${sizes.rateSeconds} -c 8 -j 2 '${s.urlFor(src)}'`,
      );
      const to = await maxHid(s, src);
      const achieved = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? 0) * CHANGES_PER_TX;
      return { from, to, achieved, rows: await historyCount(s, src, from, to) };
    };
    const record = (point: LatencyPoint) => {
      points.push(point);
      say(
        `latency ${point.system} ${fmt(point.rate)}/s (achieved ${fmt(point.achieved)}): p50 ${fmt(point.p50Ms, 1)} ms, p99 ${fmt(point.p99Ms, 1)} ms, early/late p50 ${fmt(point.earlyP50Ms, 1)}/${fmt(point.lateP50Ms, 1)} ms, drained in ${fmt(point.drainSeconds, 1)} s${point.sustained ? '' : ' (lag not flat)'}${sourceLimited(point) ? ' (pgbench fell short of the rate)' : ''}`,
      );
    };
    const phase = async (system: string, db: string, rate: number) => {
      const run = await pgbench(rate);
      const drainMs = await until(
        async () => (await historyCount(d, db, run.from, run.to)) === run.rows,
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
        [run.from, run.to],
        db,
      );
      record(
        summarize(
          system,
          rate,
          run.achieved,
          rows.map((r) => ({ ms: Number(r.ms), t: Number(r.t) })),
          drainMs / 1000,
        ),
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

    // The stream alone at 10,000/s (or the highest rate below it): the floor under any apply.
    const floorRate = Math.max(...sizes.rates.filter((r) => r <= 10_000), sizes.rates[0] ?? 10_000);

    say('latency: the stream alone (nothing applied)');
    record(await streamOnly(s, src, () => pgbench(floorRate), floorRate));

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
