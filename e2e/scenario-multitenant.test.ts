/**
 * Scenario 2, multi-tenant consolidation: three tenants (PG 14, 17, 17) with
 * the same schema and the same keys into one set of tables with `sid`. The
 * rows present before start are copied while every tenant keeps writing (a
 * 200,000-row table on tenant 1), and after that each tenant's operations
 * (insert, update, key change, delete, truncate) touch only its own rows.
 */
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres } from '@kuvasz/testkit';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { assertNoLeftovers, type Db, waitForSame } from './checks.js';
import { runCli } from './cli.js';
import { assertNoSecrets, killAll, startRun, tempDir, writeConfig } from './harness.js';
import { commitsMore, Workload } from './workload.js';

const BIG = Number(process.env.KUVASZ_E2E_TENANT_ROWS ?? 200_000);
const SMALL = 20_000;

const ddl = (sid: string, invoices: number) => `
CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL, plan text);
CREATE TABLE invoices (id int PRIMARY KEY, account_id int NOT NULL, amount numeric(12,2) NOT NULL, status text NOT NULL);
CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL);
INSERT INTO accounts SELECT g, '${sid} account ' || g, 'basic' FROM generate_series(1, 1000) g;
INSERT INTO invoices SELECT g, 1 + g % 1000, g % 997, '${sid}' FROM generate_series(1, ${invoices}) g;
INSERT INTO events (kind) SELECT '${sid} seed' FROM generate_series(1, 100);
`;

const tenants: { sid: string; version: 14 | 17; invoices: number }[] = [
  { sid: 't1', version: 14, invoices: BIG },
  { sid: 't2', version: 17, invoices: SMALL },
  { sid: 't3', version: 17, invoices: SMALL },
];
const src = new Map<string, Db>();
let clusters: PgCluster[] = [];
let dwhPg: PgCluster;
let dwh: Db;
let config: string;

beforeAll(async () => {
  const started = await Promise.all([
    ...tenants.map((t) => startPostgres({ version: t.version })),
    startPostgres({ version: 17 }),
  ]);
  clusters = started;
  dwhPg = started[3] as PgCluster;
  dwh = { cluster: dwhPg, db: await dwhPg.createDatabase('warehouse') };
  await Promise.all(
    tenants.map(async (t, i) => {
      const c = started[i] as PgCluster;
      const db = await c.createDatabase('app');
      await c.sql(ddl(t.sid, t.invoices), [], db);
      src.set(t.sid, { cluster: c, db });
    }),
  );
  config = writeConfig(
    tempDir(),
    'tenants.yaml',
    `destination: { url: "${dwhPg.urlFor(dwh.db)}" }
databases:
  - database: app
    urls:
${tenants.map((t) => `      - { url: "${src.get(t.sid)?.cluster.urlFor('app')}", sid: ${t.sid} }`).join('\n')}
    tables:
      accounts:
      invoices:
      events: { type: append }
apply: { workers: 2, flush_interval_ms: 100 }
`,
  );
  const plan = runCli(['plan', '-c', config, '--apply']);
  expect(plan.status, plan.stderr).toBe(0);
});

afterAll(async () => {
  await killAll();
  await Promise.all(clusters.map((c) => c.stop()));
});

function tenant(sid: string): Db {
  const d = src.get(sid);
  if (!d) throw new Error(`no tenant ${sid}`);
  return d;
}

async function expectTenant(sid: string): Promise<void> {
  const s = tenant(sid);
  await waitForSame(
    s,
    'SELECT id, name, plan FROM accounts',
    dwh,
    `SELECT id, name, plan FROM accounts WHERE sid = '${sid}'`,
    { message: `accounts of ${sid}` },
  );
  await waitForSame(
    s,
    'SELECT id, account_id, amount, status FROM invoices',
    dwh,
    `SELECT id, account_id, amount, status FROM invoices WHERE sid = '${sid}'`,
    { message: `invoices of ${sid}`, timeoutMs: 90_000 },
  );
}

/** A tenant's steady writes to its big table: updates and deletes across the whole key range, inserts past it. */
function invoiceWorkload(sid: string, rows: number): Workload {
  const d = tenant(sid);
  return new Workload(d.cluster, d.db, async (c, i) => {
    const id = 1 + ((i * 7919) % rows);
    await c.query(
      'UPDATE invoices SET amount = amount + 1, status = $2 WHERE id IN ($1, $1 + 1, $1 + 2)',
      [id, `${sid} paid ${i}`],
    );
    await c.query('INSERT INTO invoices VALUES ($1, $2, $3, $4)', [
      rows + i,
      1 + (i % 1000),
      i,
      `${sid} new`,
    ]);
    await c.query('DELETE FROM invoices WHERE id = $1', [1 + ((i * 104729) % rows)]);
    await c.query('UPDATE accounts SET plan = $1 WHERE id = $2', [`plan ${i}`, 1 + (i % 1000)]);
    await c.query('INSERT INTO events (kind) VALUES ($1)', [`${sid} w${i}`]);
  });
}

test('three tenants into one set of tables: copied while written, then each operation only in its own sid', async () => {
  const workloads = new Map(tenants.map((t) => [t.sid, invoiceWorkload(t.sid, t.invoices)]));
  await Promise.all([...workloads.values()].map((w) => commitsMore(w, 20)));

  const cli = startRun(config);
  // Commits of tenant 1 seen when its copy began and when its stream began.
  const seen: { copying?: number; streaming?: number } = {};
  const t1 = workloads.get('t1') as Workload;
  const look = () => {
    const logs = cli.logs().filter((l) => l.sid === 't1');
    if (seen.copying === undefined && logs.some((l) => l.msg === 'slot created; copying tables'))
      seen.copying = t1.commits;
    if (seen.streaming === undefined && logs.some((l) => l.msg === 'streaming'))
      seen.streaming = t1.commits;
  };
  const watch = setInterval(look, 10);
  try {
    await cli.waitForLogCount('streaming', 3, 120_000);
    clearInterval(watch);
    // t1's 'streaming' may be the very line that ended the wait, before the next tick.
    look();
    // Writes landed on the 200,000-row table while it was being copied.
    expect(seen.copying).toBeDefined();
    expect(seen.streaming ?? 0).toBeGreaterThan(seen.copying ?? Number.POSITIVE_INFINITY);
    await Promise.all([...workloads.values()].map((w) => commitsMore(w, 50, 60_000)));
    await Promise.all([...workloads.values()].map((w) => w.stop()));
    for (const t of tenants) await expectTenant(t.sid);
    for (const t of tenants) {
      const s = tenant(t.sid);
      await waitForSame(
        s,
        'SELECT id, kind FROM events',
        dwh,
        `SELECT id, kind FROM events WHERE sid = '${t.sid}'`,
        { message: `events of ${t.sid}` },
      );
    }

    // Same keys everywhere, different operations per tenant.
    await tenant('t1').cluster.sql(
      `DELETE FROM accounts WHERE id <= 10; INSERT INTO accounts VALUES (5000, 't1 new', 'gold')`,
      [],
      'app',
    );
    await tenant('t2').cluster.sql(
      `UPDATE accounts SET id = id + 2000 WHERE id <= 10; UPDATE accounts SET name = 't2 renamed' WHERE id BETWEEN 11 AND 20`,
      [],
      'app',
    );
    await tenant('t3').cluster.sql('TRUNCATE accounts; TRUNCATE events', [], 'app');
    for (const t of tenants) await expectTenant(t.sid);
    const perSid = await dwhPg.sql<{ sid: string; n: number; low: number; high: number }>(
      `SELECT sid, count(*)::int AS n, count(*) FILTER (WHERE id <= 10)::int AS low, max(id) AS high
         FROM accounts GROUP BY sid ORDER BY sid`,
      [],
      dwh.db,
    );
    expect(perSid).toEqual([
      { sid: 't1', n: 991, low: 0, high: 5000 },
      { sid: 't2', n: 1000, low: 0, high: 2010 },
    ]);
    // The append table ignored t3's truncate: its events are all still there.
    const events = await dwhPg.sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM events WHERE sid = 't3'",
      [],
      dwh.db,
    );
    expect(events[0]?.n).toBe(100 + (workloads.get('t3')?.commits ?? 0));
  } finally {
    clearInterval(watch);
    await Promise.all([...workloads.values()].map((w) => w.stop().catch(() => undefined)));
    const res = await cli.stop('SIGTERM');
    expect(res.code, cli.stderr.slice(-2000)).toBe(0);
    assertNoSecrets(cli.output, clusters);
  }
  const down = runCli(['teardown', '-c', config, '--yes']);
  expect(down.status, down.stdout).toBe(0);
  await assertNoLeftovers(clusters);
});
