/**
 * Many tenant databases on one source server (one `databases` entry, one URL
 * per tenant): besides its walsenders, the streamer keeps at most 2
 * connections to that server (the health monitor asks about every slot in
 * one query over one pooled connection; heartbeats only where a slot would
 * pin WAL, on a connection opened for it and closed), and the status shows
 * every slot's health. While they copy, `sync.parallel_sources` bounds how
 * many create their slot and copy at once (and so the copy connections).
 */
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres, waitFor } from '@kuvasz/testkit';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { assertNoLeftovers } from './checks.js';
import { runCli } from './cli.js';
import { killAll, startRun, tempDir, writeConfig } from './harness.js';

const TENANTS = 20;

let srcPg: PgCluster;
let dstPg: PgCluster;

beforeAll(async () => {
  [srcPg, dstPg] = await Promise.all([
    startPostgres({ version: 17, settings: { max_wal_senders: 40, max_replication_slots: 40 } }),
    startPostgres({ version: 17 }),
  ]);
});

/** `n` tenant databases `<prefix>1..n` with `rows` rows in `t`, and the destination database for them. */
async function tenants(prefix: string, n: number, rows: number) {
  const dbs: string[] = [];
  for (let i = 1; i <= n; i++) {
    const db = await srcPg.createDatabase(`${prefix}${i}`);
    await srcPg.sql(
      `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'x' FROM generate_series(1, ${rows}) g`,
      [],
      db,
    );
    dbs.push(db);
  }
  const dwh = await dstPg.createDatabase(`dwh_${prefix}`);
  await dstPg.sql(
    'CREATE TABLE t (sid text NOT NULL, id int NOT NULL, v text, PRIMARY KEY (sid, id))',
    [],
    dwh,
  );
  return { dbs, dwh };
}

afterAll(async () => {
  await killAll();
  await Promise.all([srcPg, dstPg].map((c) => c?.stop()));
});

test(`${TENANTS} tenant databases on one server: ${TENANTS} walsenders and at most 2 other connections; every slot's health in the status`, async () => {
  const { dbs, dwh } = await tenants('tenant', TENANTS, 50);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const config = writeConfig(
    tempDir(),
    'tenants.yaml',
    `destination: { url: "${dstPg.urlFor(dwh)}" }
databases:
  - database: app
    urls:
${dbs.map((db, i) => `      - { url: "${srcPg.urlFor(db)}", sid: t${i + 1} }`).join('\n')}
    tables:
      t:
http: { listen: "127.0.0.1:${port}" }
`,
  );
  const cli = startRun(config);
  try {
    await cli.waitForLogCount('streaming', TENANTS, 120_000);
    await waitFor(
      async () =>
        (await dstPg.sql<{ n: number }>('SELECT count(*)::int AS n FROM t', [], dwh))[0]?.n ===
        TENANTS * 50,
      { timeoutMs: 60_000, message: 'every tenant copied' },
    );
    // The status shows every slot's health, from one query per server.
    const sources = await waitFor(
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/api/status`);
        const body = (await res.json()) as {
          sources: {
            sid: string;
            health?: { confirmedFlushLsn: string | null; error: string | null };
          }[];
        };
        return body.sources.every((s) => s.health?.confirmedFlushLsn) ? body.sources : undefined;
      },
      { timeoutMs: 30_000, message: 'every slot in the status' },
    );
    expect(sources).toHaveLength(TENANTS);
    expect(sources.every((s) => s.health?.error === null)).toBe(true);
    // Connections the streamer keeps to the source server, once every tenant streams.
    const rows = await srcPg.sql<{ kind: string; n: number }>(
      `SELECT CASE WHEN backend_type = 'walsender' THEN 'walsender' ELSE 'other' END AS kind, count(*)::int AS n
         FROM pg_stat_activity WHERE application_name LIKE 'kuvasz%' GROUP BY 1 ORDER BY 1`,
      [],
      'postgres',
    );
    const count = (kind: string) => rows.find((r) => r.kind === kind)?.n ?? 0;
    expect(count('walsender')).toBe(TENANTS);
    expect(count('other'), JSON.stringify(rows)).toBeLessThanOrEqual(2);
  } finally {
    const res = await cli.stop('SIGTERM');
    expect(res.code, cli.stderr.slice(-2000)).toBe(0);
  }
  expect(runCli(['teardown', '-c', config, '--yes']).status).toBe(0);
  await assertNoLeftovers([srcPg]);
}, 240_000);

test('sync.parallel_sources: 12 tenants starting together, at most 2 copy at once; the others say they wait', async () => {
  const { dbs, dwh } = await tenants('gate', 12, 2000);
  const config = writeConfig(
    tempDir(),
    'gate.yaml',
    `destination: { url: "${dstPg.urlFor(dwh)}" }
databases:
  - database: app
    urls:
${dbs.map((db, i) => `      - { url: "${srcPg.urlFor(db)}", sid: g${i + 1} }`).join('\n')}
    tables:
      t:
sync: { parallel_sources: 2, parallel_tables: 1 }
`,
  );
  // Copy connections to the source server, sampled while the tenants start.
  let most = 0;
  let sampling = true;
  const sampler = (async () => {
    const c = await srcPg.connect('postgres');
    try {
      while (sampling) {
        const r = await c.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'kuvasz-copy-sync'",
        );
        most = Math.max(most, r.rows[0]?.n ?? 0);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    } finally {
      await c.end();
    }
  })();
  const cli = startRun(config);
  try {
    await cli.waitForLogCount('streaming', 12, 120_000);
    sampling = false;
    await sampler;
    expect(
      (await dstPg.sql<{ n: number }>('SELECT count(*)::int AS n FROM t', [], dwh))[0]?.n,
    ).toBe(12 * 2000);
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(2);
    expect(cli.countLogs('waiting for a sync turn (sync.parallel_sources)')).toBeGreaterThan(0);
  } finally {
    sampling = false;
    await sampler.catch(() => undefined);
    const res = await cli.stop('SIGTERM');
    expect(res.code, cli.stderr.slice(-2000)).toBe(0);
  }
  expect(runCli(['teardown', '-c', config, '--yes']).status).toBe(0);
}, 240_000);
