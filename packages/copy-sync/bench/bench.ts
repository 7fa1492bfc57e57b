/**
 * `pnpm --filter @kuvasz/copy-sync bench`: copies a pgbench_accounts-like
 * table plus a wide table (2 KB text values) from a PostgreSQL 15 source into
 * a PostgreSQL 17 destination with CopySync, and in the same run times
 * `pg_dump --data-only | psql` (Debian's client 15: pg_dump refuses servers
 * newer than itself, hence the 15 source) for the same tables into empty
 * targets. Prints MB/s, rows/s, peak RSS and the ratio.
 *
 * Env: KUVASZ_BENCH_SCALE (pgbench scale, 100,000 rows each; default 70 ~ 0.9 GB),
 * KUVASZ_BENCH_WIDE_ROWS (default 50,000 ~ 0.1 GB), KUVASZ_BENCH_RUNS (default 3),
 * KUVASZ_BENCH_READERS / KUVASZ_BENCH_PARALLEL / KUVASZ_BENCH_CHUNK_PAGES (CopySync options).
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type PgCluster, startPostgres } from '@kuvasz/testkit';
import pg from 'pg';
import { CopySync, type TableSpec } from '../src/index.js';
import { exportSnapshot } from '../test/helpers.js';

const env = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : Number(v);
};
const SCALE = env('KUVASZ_BENCH_SCALE', 70);
const WIDE_ROWS = env('KUVASZ_BENCH_WIDE_ROWS', 50_000);
const RUNS = env('KUVASZ_BENCH_RUNS', 3);
const READERS = env('KUVASZ_BENCH_READERS', 2);
const PARALLEL = env('KUVASZ_BENCH_PARALLEL', 2);
const CHUNK_PAGES = env('KUVASZ_BENCH_CHUNK_PAGES', 0);

// min_wal_size keeps WAL segments recycled between runs: otherwise the first copy of a run
// pays for creating (zero-filling) gigabytes of new segments and the second does not.
const SETTINGS = {
  max_wal_size: '8GB',
  min_wal_size: '4GB',
  checkpoint_timeout: '30min',
  shared_buffers: '256MB',
};
const TABLES = ['pgbench_accounts', 'wide'];
const DDL = `
  CREATE TABLE pgbench_accounts (aid int NOT NULL, bid int, abalance int, filler char(84));
  CREATE TABLE wide (id int NOT NULL, created timestamptz NOT NULL DEFAULT now(), payload text);`;
const KEYS = `
  ALTER TABLE pgbench_accounts ADD PRIMARY KEY (aid);
  ALTER TABLE wide ADD PRIMARY KEY (id);`;

function hasTool(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function ensureClientTools(): 'pg_dump' | 'psql-copy' {
  if (hasTool('pg_dump') && hasTool('psql')) return 'pg_dump';
  try {
    execFileSync('apt-get', ['install', '-y', 'postgresql-client-15'], { stdio: 'ignore' });
    if (hasTool('pg_dump') && hasTool('psql')) return 'pg_dump';
  } catch {
    // not root, or no network: fall back below
  }
  if (hasTool('psql')) return 'psql-copy';
  throw new Error(
    'neither pg_dump nor psql is installed, and apt-get install postgresql-client-15 failed',
  );
}

function peakRssSampler(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

function vmHwm(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m?.[1] ? Number(m[1]) * 1024 : 0;
}

function run(cmd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['-c', `set -o pipefail; ${cmd}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd.split(' ')[0]} failed: ${err}`)),
    );
  });
}

async function prepareTarget(d: PgCluster, db: string): Promise<void> {
  await d.sql(`DROP TABLE IF EXISTS pgbench_accounts, wide; ${DDL} ${KEYS}`, [], db);
  await d.sql('DROP SCHEMA IF EXISTS kuvasz CASCADE', [], db);
  await d.sql('CHECKPOINT');
  // Start every timed copy with no dirty pages pending, or writeback of the previous run's
  // gigabytes lands on the next one (the main source of noise here).
  execFileSync('sync');
}

async function count(d: PgCluster, db: string): Promise<number> {
  const r = await d.sql<{ n: string }>(
    `SELECT ((SELECT count(*) FROM pgbench_accounts) + (SELECT count(*) FROM wide))::text AS n`,
    [],
    db,
  );
  return Number(r[0]?.n);
}

const fmt = (n: number, d = 1) => n.toLocaleString('en-US', { maximumFractionDigits: d });

/** psql \\copy text vs binary for the same tables: is FORMAT binary worth it? */
async function compareFormats(s: PgCluster, src: string, d: PgCluster, dst: string): Promise<void> {
  console.log('\nCOPY format, psql \\copy to stdout | psql \\copy from stdin, per table:');
  for (const t of TABLES) {
    for (const format of ['text', 'binary', 'text', 'binary']) {
      await d.sql(`TRUNCATE ${t}`, [], dst);
      await d.sql('CHECKPOINT');
      const t0 = performance.now();
      await run(
        `psql -qc '\\copy ${t} to stdout (format ${format})' '${s.urlFor(src)}' | psql -qc '\\copy ${t} from stdin (format ${format})' '${d.urlFor(dst)}'`,
      );
      console.log(`  ${t} ${format}: ${fmt((performance.now() - t0) / 1000, 2)} s`);
    }
  }
}

async function main(): Promise<void> {
  const tool = ensureClientTools();
  const s = await startPostgres({ version: 15, settings: SETTINGS });
  const d = await startPostgres({ version: 17, settings: SETTINGS });
  const stopAll = async () => {
    await s.stop();
    await d.stop();
  };
  process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    const src = await s.createDatabase('bench_src');
    const ours = await d.createDatabase('bench_ours');
    const base = await d.createDatabase('bench_base');
    const rows = SCALE * 100_000;
    console.log(
      `generating ${fmt(rows, 0)} pgbench_accounts rows and ${fmt(WIDE_ROWS, 0)} wide rows on PostgreSQL 15 ...`,
    );
    await s.sql(DDL, [], src);
    await s.sql(
      `INSERT INTO pgbench_accounts SELECT i, (i - 1) / 100000 + 1, 0, '' FROM generate_series(1, ${rows}) i`,
      [],
      src,
    );
    await s.sql(
      `INSERT INTO wide (id, payload)
       SELECT i, (SELECT string_agg(md5(random()::text || i || j), '') FROM generate_series(1, 64) j)
         FROM generate_series(1, ${WIDE_ROWS}) i`,
      [],
      src,
    );
    await s.sql(KEYS, [], src);
    await s.sql('VACUUM (FREEZE, ANALYZE)', [], src);
    const size = await s.sql<{ mb: string }>(
      `SELECT (sum(pg_total_relation_size(c))/1e6)::int::text AS mb FROM unnest(ARRAY['pgbench_accounts','wide']::regclass[]) c`,
      [],
      src,
    );
    console.log(
      `source size with indexes and TOAST: ${size[0]?.mb} MB (PostgreSQL ${s.version} -> ${d.version})`,
    );

    const results: { what: string; secs: number; bytes: number; rows: number; rss?: number }[] = [];
    const baseline = async (): Promise<{ secs: number; rows: number }> => {
      // pg_dump --data-only | psql, into empty tables with their primary keys.
      await prepareTarget(d, base);
      const t0 = performance.now();
      if (tool === 'pg_dump') {
        await run(
          `pg_dump --data-only ${TABLES.map((t) => `-t public.${t}`).join(' ')} '${s.urlFor(src)}' | psql -q -v ON_ERROR_STOP=1 '${d.urlFor(base)}'`,
        );
      } else {
        for (const t of TABLES) {
          await run(
            `psql -qc '\\copy ${t} to stdout' '${s.urlFor(src)}' | psql -qc '\\copy ${t} from stdin' '${d.urlFor(base)}'`,
          );
        }
      }
      return { secs: (performance.now() - t0) / 1000, rows: await count(d, base) };
    };
    const copySync = async (r: number) => {
      await prepareTarget(d, ours);
      const pool = new pg.Pool({ connectionString: d.urlFor(ours), max: READERS + PARALLEL });
      const snap = await exportSnapshot(s, src);
      const rssBefore = process.memoryUsage().rss;
      const rss = peakRssSampler();
      const t1 = performance.now();
      let res: Awaited<ReturnType<CopySync['syncSource']>>;
      try {
        const sync = new CopySync({
          destination: pool,
          readers: READERS,
          parallelTables: PARALLEL,
          ...(CHUNK_PAGES > 0 ? { chunkPages: CHUNK_PAGES } : {}),
        });
        res = await sync.syncSource({
          source: { connectionString: s.urlFor(src), database: 'bench', sid: '1' },
          snapshot: snap,
          onSnapshotImported: () => void snap.close(),
          tables: TABLES.map(
            (t): TableSpec => ({
              source: { schema: 'public', table: t },
              target: { schema: 'public', table: t },
              type: 'clone',
            }),
          ),
        });
      } finally {
        await pool.end();
      }
      const secs = (performance.now() - t1) / 1000;
      const peak = rss.stop();
      console.log(
        `run ${r + 1}: our process RSS before the copy ${fmt(rssBefore / 2 ** 20, 0)} MiB, peak during it ${fmt(peak / 2 ** 20, 0)} MiB`,
      );
      const rows = res.reduce((a, x) => a + x.rows, 0);
      if ((await count(d, ours)) !== rows)
        throw new Error('destination row count differs from the result');
      return { secs, rows, peak, bytes: res.reduce((a, x) => a + x.bytes, 0) };
    };
    console.log('warm-up load (untimed) ...');
    await baseline();
    for (let r = 0; r < RUNS; r++) {
      // Alternate the order so that a systematic first/second effect shows up as noise, not bias.
      let b: { secs: number; rows: number };
      let o: Awaited<ReturnType<typeof copySync>>;
      if (r % 2 === 0) {
        b = await baseline();
        o = await copySync(r);
      } else {
        o = await copySync(r);
        b = await baseline();
      }
      if (o.rows !== b.rows)
        throw new Error(`row counts differ: ours ${o.rows}, baseline ${b.rows}`);
      results.push({
        what: tool === 'pg_dump' ? 'pg_dump → psql' : 'psql \\copy → psql \\copy',
        secs: b.secs,
        bytes: o.bytes,
        rows: b.rows,
      });
      results.push({
        what: `CopySync (readers ${READERS}, tables ${PARALLEL}${CHUNK_PAGES > 0 ? `, chunkPages ${CHUNK_PAGES}` : ''})`,
        secs: o.secs,
        bytes: o.bytes,
        rows: o.rows,
        rss: o.peak,
      });
    }
    console.log(
      '\nNOTE: shared 2-core machine, other engineers run tests at the same time: figures are noisy; compare the ratio.',
    );
    console.log(
      `source PostgreSQL ${s.version} (pg_dump 15 cannot dump newer servers), destination PostgreSQL ${d.version}`,
    );
    console.log('| run | what | seconds | MB/s (COPY text) | rows/s | peak RSS |');
    console.log('| --- | --- | ---: | ---: | ---: | ---: |');
    results.forEach((x, i) => {
      console.log(
        `| ${Math.floor(i / 2) + 1} | ${x.what} | ${fmt(x.secs, 2)} | ${fmt(x.bytes / 1e6 / x.secs)} | ${fmt(x.rows / x.secs, 0)} | ${x.rss ? `${fmt(x.rss / 2 ** 20, 0)} MiB` : '-'} |`,
      );
    });
    const ratios: number[] = [];
    for (let i = 0; i + 1 < results.length; i += 2) {
      const b = results[i];
      const o = results[i + 1];
      if (b && o) {
        ratios.push(b.secs / o.secs);
        console.log(
          `run ${i / 2 + 1}: ratio (baseline time / our time) = ${fmt(b.secs / o.secs, 2)}x`,
        );
      }
    }
    const sorted = [...ratios].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    const totals = (k: number) =>
      results.filter((_, i) => i % 2 === k).reduce((a, x) => a + x.secs, 0);
    console.log(
      `median ratio ${fmt(median, 2)}x; total time baseline ${fmt(totals(0), 1)} s vs ours ${fmt(totals(1), 1)} s = ${fmt(totals(0) / totals(1), 2)}x`,
    );
    console.log(`process VmHWM (whole bench process): ${fmt(vmHwm() / 2 ** 20, 0)} MiB`);
    if (process.env.KUVASZ_BENCH_FORMATS === '1') await compareFormats(s, src, d, base);
  } finally {
    await stopAll();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
