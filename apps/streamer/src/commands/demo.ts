import { type PgCluster, startPostgres, TestkitError } from '@kuvasz/testkit';
import type pg from 'pg';
import type { CliArgs } from '../cli/args.js';
import type { Config } from '../config/load.js';
import { Redactor } from '../config/secrets.js';
import { demoBinaries } from '../demo/binaries.js';
import { DEMO_TABLES, SOURCE_DDL, seedSql } from '../demo/schema.js';
import { Workload } from '../demo/workload.js';
import { EXIT, StreamerError } from '../errors.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { Streamer } from '../runtime/streamer.js';
import { planDestination } from './plan.js';

const TENANTS = ['tenant1', 'tenant2'] as const;

function demoConfig(sources: PgCluster[], warehouse: PgCluster): Config {
  const tables = DEMO_TABLES.map((t) => ({
    key: t.table,
    source: { schema: 'public', table: t.table },
    target: { schema: 'public', table: t.table },
    type: t.type,
    partitionsRegex: undefined,
    schemaChanges: 'ignore' as const,
    rules: undefined,
  }));
  return {
    file: '(demo)',
    destination: { url: warehouse.urlFor('warehouse'), schema: 'public', metadataSchema: 'kuvasz' },
    sources: sources.map((c, i) => ({
      database: 'shop',
      sid: TENANTS[i] ?? `t${i}`,
      url: c.urlFor('shop'),
      tables,
    })),
    apply: { workers: 2, batchRows: 5_000, flushIntervalMs: 0, shutdownTimeoutMs: 30_000 },
    sync: { parallelTables: 2, parallelSources: 16, rate: undefined },
    http: undefined,
    cors: undefined,
    auth: { adminPasswordHash: undefined, jwtKey: undefined, ttlSeconds: 300 },
    map: { mode: 'file' },
    log: { level: 'warn', format: 'pretty' },
    fleet: undefined,
    secrets: [...sources, warehouse].map((c) => c.password),
    notices: [],
  };
}

interface Counts {
  table: string;
  sid: string;
  rows: number;
}

async function warehouseCounts(client: pg.Client): Promise<Counts[]> {
  const res = await client.query<{ t: string; sid: string; n: string }>(
    `SELECT 'customers' AS t, sid, count(*)::text AS n FROM customers GROUP BY sid
     UNION ALL SELECT 'events', sid, count(*)::text FROM events GROUP BY sid
     UNION ALL SELECT 'prices (versions)', sid, count(*)::text FROM prices GROUP BY sid
     ORDER BY 1, 2`,
  );
  return res.rows.map((r) => ({ table: r.t, sid: r.sid, rows: Number(r.n) }));
}

/**
 * `demo`: two tenant sources and a warehouse on embedded PostgreSQL, a clone,
 * an append and a history table, a live workload and a live view. Everything
 * is removed at the end (Ctrl-C or --duration-s).
 */
export async function demoCommand(
  args: CliArgs,
  out: NodeJS.WriteStream = process.stdout,
): Promise<number> {
  const tty = Boolean(out.isTTY);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  // Ours before the clusters start, so the kit leaves shutdown to us.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const clusters: PgCluster[] = [];
  let streamer: Streamer | undefined;
  const workloads: Workload[] = [];
  const clients: pg.Client[] = [];
  try {
    const binaries = await demoBinaries(out);
    out.write(
      'kuvasz-streamer demo: starting three embedded PostgreSQL 17 servers (tenant1, tenant2, warehouse)...\n',
    );
    const started = await Promise.all(
      [0, 1, 2].map(() => startPostgres({ version: 17, ...(binaries ? { binaries } : {}) })),
    ).catch((err: unknown) => {
      if (err instanceof TestkitError && err.code === 'binaries_missing') {
        throw new StreamerError(
          'runtime',
          `the demo's PostgreSQL 17 binaries are not usable: ${err.message}`,
          { cause: err },
        );
      }
      throw err;
    });
    clusters.push(...started);
    const [t1, t2, wh] = started as [PgCluster, PgCluster, PgCluster];
    for (const [i, c] of [t1, t2].entries()) {
      await c.createDatabase('shop');
      const client = await c.connect('shop');
      await client.query(SOURCE_DDL);
      await client.query(seedSql(i + 1));
      await client.end();
    }
    await wh.createDatabase('warehouse');
    if (stop.signal.aborted) return EXIT.ok;

    const cfg = demoConfig([t1, t2], wh);
    out.write(
      '\n$ kuvasz-streamer plan --apply   # target tables with sid; history with kvsz_start/kvsz_end/kvsz_deleted\n',
    );
    await planDestination(cfg, true, out);

    const log = createLogger({
      level: 'warn',
      format: 'pretty',
      redactor: new Redactor(cfg.secrets),
    });
    streamer = new Streamer(cfg, log, createMetrics(), undefined);
    await streamer.start();
    out.write('\nstreaming: initial copy of both tenants, then changes...\n');
    const s = streamer;
    const deadline = Date.now() + 60_000;
    while (!s.ready() && !stop.signal.aborted && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));

    for (const c of [t1, t2]) {
      const client = await c.connect('shop');
      // A server going away mid-demo fails the next query instead of crashing the process.
      client.on('error', () => {});
      clients.push(client);
      const w = new Workload(client, 20);
      workloads.push(w);
      w.start();
    }
    const whClient = await wh.connect('warehouse');
    whClient.on('error', () => {});
    clients.push(whClient);

    const endAt = args.durationS ? Date.now() + args.durationS * 1000 : Number.POSITIVE_INFINITY;
    let lastApplied = 0;
    let lastAt = Date.now();
    let drawn = 0;
    out.write(tty ? 'live view (Ctrl-C to stop):\n' : 'live view (one line per second):\n');
    while (!stop.signal.aborted && Date.now() < endAt) {
      await new Promise((r) => setTimeout(r, 1000));
      const snap = s.snapshot();
      const applied = snap.tables.filter((e) => e.result === 'ok').reduce((n, e) => n + e.count, 0);
      const now = Date.now();
      const rate = ((applied - lastApplied) * 1000) / Math.max(1, now - lastAt);
      lastApplied = applied;
      lastAt = now;
      const lag = Math.max(0, ...snap.sources.map((x) => x.lagSeconds));
      const counts = await warehouseCounts(whClient);
      const txs = workloads.reduce((n, w) => n + w.transactions, 0);
      const head = `changes applied: ${applied} (${rate.toFixed(0)}/s)  lag: ${lag.toFixed(2)} s  source transactions: ${txs}`;
      if (tty) {
        const lines = [
          head,
          ...counts.map(
            (c) => `  ${c.table.padEnd(18)} ${c.sid.padEnd(8)} ${String(c.rows).padStart(7)} rows`,
          ),
        ];
        out.write(`${drawn ? `\x1b[${drawn}A` : ''}${lines.map((l) => `\x1b[2K${l}\n`).join('')}`);
        drawn = lines.length;
      } else {
        out.write(`${head}  ${counts.map((c) => `${c.table}[${c.sid}]=${c.rows}`).join(' ')}\n`);
      }
    }

    out.write('\nstopping the workload and letting the streamer catch up...\n');
    for (const w of workloads) await w.stop();
    const catchUp = Date.now() + 15_000;
    while (Date.now() < catchUp && s.snapshot().sources.some((x) => x.lagSeconds > 0)) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await streamer.stop();
    streamer = undefined;
    const history = await whClient.query<{
      sid: string;
      sku: string;
      price: string;
      kvsz_start: Date;
      kvsz_end: Date;
      kvsz_deleted: boolean;
    }>(
      `SELECT sid, sku, price::text, kvsz_start, kvsz_end, kvsz_deleted FROM prices
        WHERE sku = (SELECT sku FROM prices GROUP BY sku ORDER BY count(*) DESC, sku LIMIT 1)
        ORDER BY sid, kvsz_start LIMIT 12`,
    );
    out.write('\nhistory of the most changed price (one row per version, per tenant):\n');
    out.write(
      '  sid      sku      price    kvsz_start                 kvsz_end                   deleted\n',
    );
    for (const r of history.rows) {
      out.write(
        `  ${r.sid.padEnd(8)} ${r.sku.padEnd(8)} ${r.price.padStart(7)}  ${r.kvsz_start.toISOString().padEnd(26)} ${r.kvsz_end.toISOString().padEnd(26)} ${r.kvsz_deleted}\n`,
      );
    }
    return EXIT.ok;
  } finally {
    for (const w of workloads) await w.stop();
    for (const c of clients) await c.end().catch(() => undefined);
    await streamer?.stop().catch(() => undefined);
    await Promise.all(clusters.map((c) => c.stop().catch(() => undefined)));
    if (clusters.length > 0)
      out.write('stopped the demo servers and removed their data directories\n');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
