/**
 * The admin API driven as an operator would, on a running streamer whose map
 * lives in the destination, with writes going on: list the map, create a
 * target, replicate a table, add a source, remove a table, restart, re-copy
 * a table. Every change takes effect without a restart of the process;
 * nothing is lost or doubled across them (the destination ends equal to the
 * sources); unauthenticated changes get 401; the map survives a restart.
 */
import { execFileSync } from 'node:child_process';
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres, waitFor } from '@kuvasz/testkit';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { assertNoLeftovers, type Db, waitForSame } from './checks.js';
import { runCli } from './cli.js';
import { assertNoSecrets, freePort, killAll, startRun, tempDir, writeConfig } from './harness.js';
import { commitsMore, Workload } from './workload.js';

const PASSWORD = 'operator password';

let a: PgCluster;
let b: PgCluster;
let dwhPg: PgCluster;
let shopA: Db;
let shopB: Db;
let dwh: Db;
let config: string;
let api: string;

beforeAll(async () => {
  [a, b, dwhPg] = await Promise.all([
    startPostgres({ version: 17 }),
    startPostgres({ version: 14 }),
    startPostgres({ version: 17 }),
  ]);
  const ddl = `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
               CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, total numeric(10,2));
               INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 200) g;
               INSERT INTO orders SELECT g, g % 200 + 1, g FROM generate_series(1, 2000) g;`;
  shopA = { cluster: a, db: await a.createDatabase('shop') };
  shopB = { cluster: b, db: await b.createDatabase('shop') };
  await a.sql(ddl, [], shopA.db);
  await b.sql(ddl, [], shopB.db);
  dwh = { cluster: dwhPg, db: await dwhPg.createDatabase('warehouse') };
  const hash = execFileSync('openssl', ['passwd', '-6', PASSWORD], { encoding: 'utf8' }).trim();
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  // The seed: one source, one table; the map then lives in the destination.
  config = writeConfig(
    tempDir(),
    'admin.yaml',
    `destination: { url: "${dwhPg.urlFor(dwh.db)}" }
map: { store: destination }
databases:
  - database: shop
    urls: [{ url: "${a.urlFor(shopA.db)}", sid: a }]
    tables: { customers: }
http:
  listen: 127.0.0.1:${port}
  auth: { admin_password: '${hash}', jwt_key: 'a-jwt-key-for-this-test-0123456789' }
apply: { flush_interval_ms: 50 }
`,
  );
  const plan = runCli(['plan', '-c', config, '--apply']);
  expect(plan.status, plan.stderr).toBe(0);
});

afterAll(async () => {
  await killAll();
  await Promise.all([a, b, dwhPg].map((c) => c?.stop()));
});

async function call(
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> & Record<string, unknown>[] }> {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const ordersOf = (sid: string) => `SELECT id, customer_id, total FROM orders WHERE sid = '${sid}'`;
const ORDERS = 'SELECT id, customer_id, total FROM orders';

test('an operator changes the map through the API while the sources keep writing', async () => {
  const cli = startRun(config);
  const writersA = new Workload(
    a,
    shopA.db,
    async (c, i) => {
      await c.query('INSERT INTO orders VALUES ($1, $2, $3)', [100_000 + i, (i % 200) + 1, i]);
      await c.query('UPDATE customers SET name = $1 WHERE id = $2', [`a${i}`, (i % 200) + 1]);
    },
    { pauseMs: 5 },
  );
  const writersB = new Workload(
    b,
    shopB.db,
    async (c, i) => {
      await c.query('INSERT INTO orders VALUES ($1, $2, $3)', [200_000 + i, (i % 200) + 1, i]);
    },
    { pauseMs: 5 },
  );
  try {
    await cli.waitForLog('streaming');
    await commitsMore(writersA, 20);

    // Unauthenticated changes are refused.
    expect((await call('POST', '/api/url/restart')).status).toBe(401);
    const login = await call('POST', '/api/login', undefined, { password: PASSWORD });
    expect(login.status).toBe(200);
    const token = String(login.body.token);

    // The seed was imported: one database, its URL (password hidden), one table.
    expect((await call('GET', '/api/db')).body).toEqual([{ id: 1, name: 'shop' }]);
    const urls = (await call('GET', '/api/url')).body;
    expect(urls).toHaveLength(1);
    expect(JSON.stringify(urls)).not.toContain(new URL(a.urlFor(shopA.db)).password);

    // The map lists both tables; orders has no target yet.
    const map = (await call('GET', '/api/map')).body as unknown as Record<string, unknown>[];
    const orders = map.find((m) => m.name === 'orders')!;
    expect(orders).toMatchObject({ replicated: false, present: false });
    expect(map.find((m) => m.name === 'customers')).toMatchObject({
      replicated: true,
      present: true,
    });

    // Create its target, then replicate it: copied in a fresh snapshot, then streamed.
    expect((await call('POST', `/api/map/${orders.id}/create`, token)).status).toBe(201);
    expect((await call('POST', `/api/map/${orders.id}/clone`, token)).status).toBe(201);
    await commitsMore(writersA, 20);
    await waitForSame(shopA, ORDERS, dwh, ordersOf('a'), { timeoutMs: 90_000 });

    // Add a source (the second server of the database): it starts by itself.
    const added = await call('POST', '/api/url', token, {
      db_id: 1,
      url: b.urlFor(shopB.db),
      sid: 'b',
    });
    expect(added.status).toBe(201);
    await commitsMore(writersB, 20);
    await waitForSame(shopB, ORDERS, dwh, ordersOf('b'), { timeoutMs: 90_000 });

    // Remove customers: it leaves the publications, its target keeps its rows.
    const tbls = (await call('GET', '/api/tbl')).body as unknown as { id: number; name: string }[];
    const customers = tbls.find((t) => t.name === 'customers')!;
    expect((await call('DELETE', `/api/tbl/${customers.id}`, token)).status).toBe(200);
    await waitFor(
      async () =>
        (
          await a.sql(
            "SELECT count(*)::int AS n FROM pg_publication_tables WHERE tablename = 'customers'",
            [],
            shopA.db,
          )
        )[0]?.n === 0,
      { timeoutMs: 60_000, message: 'customers left the publication' },
    );
    const kept = await dwhPg.sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM customers WHERE sid = 'a'",
      [],
      dwh.db,
    );
    expect(kept[0]?.n).toBe(200);

    // Restart every source; then re-copy orders from its sources.
    expect((await call('POST', '/api/url/restart', token)).status).toBe(200);
    const ordersTbl = tbls.find((t) => t.name === 'orders')!;
    expect((await call('POST', `/api/tbl/${ordersTbl.id}/resync`, token)).status).toBe(202);
    await cli.waitForLogCount(
      /copying tables added to the configuration|slot created; copying tables/,
      3,
      90_000,
    );

    await commitsMore(writersA, 20);
    await commitsMore(writersB, 20);
    await Promise.all([writersA.stop(), writersB.stop()]);
    // Nothing lost, nothing doubled, across every change.
    await waitForSame(shopA, ORDERS, dwh, ordersOf('a'), { timeoutMs: 90_000 });
    await waitForSame(shopB, ORDERS, dwh, ordersOf('b'), { timeoutMs: 90_000 });
    expect((await cli.stop()).code).toBe(0);
    assertNoSecrets(cli.output, [a, b, dwhPg]);
  } finally {
    await writersA.stop().catch(() => undefined);
    await writersB.stop().catch(() => undefined);
    await cli.stop('SIGKILL');
  }

  // The map lives in the destination: a new process starts with it (both sources, orders only).
  const again = startRun(config);
  try {
    await again.waitForLogCount('streaming', 2);
    expect(again.countLogs(/map read from the destination/)).toBe(1);
    expect((await again.stop()).code).toBe(0);
  } finally {
    await again.stop('SIGKILL');
  }
}, 300_000);

test('teardown drops the slots of every source of the map, the ones added through the API too', async () => {
  expect(runCli(['teardown', '-c', config, '--yes']).status).toBe(0);
  await assertNoLeftovers([a, b, dwhPg]);
});
