/**
 * Benchmark 1: initial sync of ~1 GB (a pgbench_accounts-like table and a
 * table of 2 KB TOASTed values) from PostgreSQL 15 into PostgreSQL 17:
 * `kuvasz-streamer run` until it streams, against `pg_dump --data-only | psql`
 * into the same empty tables (primary keys in place on both sides).
 */
import { execFileSync } from 'node:child_process';
import { startPostgres } from '@kuvasz/testkit';
import type { BenchSizes } from './config.js';
import { noteVersion } from './machine.js';
import { cli, StreamerProcess, writeConfig } from './streamer-process.js';
import type { SyncResult } from './types.js';
import { BENCH_SETTINGS, fmt, hasTool, median, one, say, sh } from './util.js';

const DDL = `
  CREATE TABLE accounts (aid int NOT NULL, bid int, abalance int, filler char(84));
  CREATE TABLE wide (id int NOT NULL, created timestamptz NOT NULL DEFAULT now(), payload text);`;
const KEYS = `
  ALTER TABLE accounts ADD PRIMARY KEY (aid);
  ALTER TABLE wide ADD PRIMARY KEY (id);`;

/** pg_dump 15 (Debian's) refuses newer servers: the source is PostgreSQL 15. */
function baselineTool(): { tool: 'pg_dump' | 'psql-copy'; note: string } {
  if (hasTool('pg_dump') && hasTool('psql')) return { tool: 'pg_dump', note: '' };
  if (process.getuid?.() === 0) {
    try {
      say('pg_dump is missing: apt-get install postgresql-client-15');
      execFileSync('apt-get', ['install', '-y', 'postgresql-client-15'], { stdio: 'ignore' });
      if (hasTool('pg_dump') && hasTool('psql')) return { tool: 'pg_dump', note: '' };
    } catch {
      // no network or no apt: fall back below
    }
  }
  if (hasTool('psql'))
    return {
      tool: 'psql-copy',
      note: 'pg_dump is not installed and could not be: the baseline is psql \\copy to stdout | psql \\copy from stdin',
    };
  throw new Error('neither pg_dump nor psql is installed (apt-get install postgresql-client-15)');
}

export async function benchSync(sizes: BenchSizes, runs: number): Promise<SyncResult> {
  const { tool, note } = baselineTool();
  const s = await startPostgres({ version: 15, settings: BENCH_SETTINGS });
  const d = await startPostgres({ version: 17, settings: BENCH_SETTINGS });
  await Promise.all([noteVersion(s), noteVersion(d)]);
  try {
    const src = await s.createDatabase('sync_src');
    const ours = await d.createDatabase('sync_ours');
    const base = await d.createDatabase('sync_base');
    say(
      `sync: generating ${fmt(sizes.syncRows)} accounts rows and ${fmt(sizes.syncWideRows)} wide rows on PostgreSQL 15`,
    );
    await s.sql(DDL, [], src);
    await s.sql(
      "INSERT INTO accounts SELECT i, (i - 1) / 100000 + 1, 0, '' FROM generate_series(1, $1::int) i",
      [sizes.syncRows],
      src,
    );
    await s.sql(
      `INSERT INTO wide (id, payload)
       SELECT i, (SELECT string_agg(md5(random()::text || i || j), '') FROM generate_series(1, 64) j)
         FROM generate_series(1, $1::int) i`,
      [sizes.syncWideRows],
      src,
    );
    await s.sql(KEYS, [], src);
    await s.sql('VACUUM (FREEZE, ANALYZE)', [], src);
    const size = await one<{ bytes: string }>(
      s,
      src,
      "SELECT (pg_table_size('accounts') + pg_table_size('wide'))::text AS bytes",
    );
    const bytes = Number(size.bytes);
    const rows = sizes.syncRows + sizes.syncWideRows;
    say(`sync: ${fmt(bytes / 1e6)} MB of table data (heap + TOAST, without indexes)`);

    const config = writeConfig(
      'sync.yaml',
      `destination: { url: "${d.urlFor(ours)}" }
databases:
  - database: sync_src
    urls: [{ url: "${s.urlFor(src)}", sid: 1 }]
    tables: { accounts:, wide: }
sync: { parallel_tables: 2 }
`,
    );
    const prepare = async (db: string) => {
      await d.sql(
        `DROP TABLE IF EXISTS accounts, wide; DROP SCHEMA IF EXISTS kuvasz CASCADE; ${DDL} ${KEYS}`,
        [],
        db,
      );
      await d.sql('CHECKPOINT');
      // No dirty pages of the previous copy left to write back during the next one.
      execFileSync('sync');
    };
    const count = async (db: string) =>
      Number(
        (
          await one<{ n: string }>(
            d,
            db,
            'SELECT ((SELECT count(*) FROM accounts) + (SELECT count(*) FROM wide))::text AS n',
          )
        ).n,
      );

    const oursSecs: number[] = [];
    const baseSecs: number[] = [];
    let peakRss = 0;
    for (let r = 0; r < runs; r++) {
      // Alternate the order: whichever runs second finds warmer caches.
      for (const which of r % 2 === 0 ? ['baseline', 'ours'] : ['ours', 'baseline']) {
        if (which === 'baseline') {
          await prepare(base);
          say(
            `sync: ${tool === 'pg_dump' ? 'pg_dump --data-only | psql' : 'psql \\copy | psql \\copy'} ...`,
          );
          const t0 = performance.now();
          if (tool === 'pg_dump') {
            await sh(
              `pg_dump --data-only -t public.accounts -t public.wide '${s.urlFor(src)}' | psql -q -v ON_ERROR_STOP=1 '${d.urlFor(base)}'`,
            );
          } else {
            for (const t of ['accounts', 'wide'])
              await sh(
                `psql -qc '\\copy ${t} to stdout' '${s.urlFor(src)}' | psql -qc '\\copy ${t} from stdin' '${d.urlFor(base)}'`,
              );
          }
          baseSecs.push((performance.now() - t0) / 1000);
          if ((await count(base)) !== rows)
            throw new Error('the baseline copied a wrong row count');
          say(`sync: baseline ${fmt(baseSecs.at(-1) ?? 0, 1)} s`);
        } else {
          await prepare(ours);
          say('sync: kuvasz-streamer run until streaming ...');
          const t0 = performance.now();
          const p = new StreamerProcess(config);
          try {
            await p.streaming(1, 3_600_000);
            oursSecs.push((performance.now() - t0) / 1000);
            peakRss = Math.max(peakRss, p.peakRss());
          } finally {
            await p.stop();
          }
          cli(['teardown', '-c', config, '--yes']);
          if ((await count(ours)) !== rows)
            throw new Error('the streamer copied a wrong row count');
          say(`sync: kuvasz-streamer ${fmt(oursSecs.at(-1) ?? 0, 1)} s`);
        }
      }
    }
    const oursS = median(oursSecs);
    const baseS = median(baseSecs);
    return {
      sourceVersion: s.version,
      destVersion: d.version,
      bytes,
      rows,
      baselineTool: tool,
      note,
      runs,
      oursSeconds: oursS,
      baselineSeconds: baseS,
      oursMBps: bytes / 1e6 / oursS,
      baselineMBps: bytes / 1e6 / baseS,
      ratio: baseS / oursS,
      peakRssBytes: peakRss,
    };
  } finally {
    await s.stop();
    await d.stop();
  }
}
