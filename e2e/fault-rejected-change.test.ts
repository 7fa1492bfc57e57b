/**
 * Fault: the destination rejects a change (a NOT NULL the target has and the
 * source does not). That source stops and says why (log, `status`,
 * `/api/status`: table, key, server message), the other source goes on,
 * nothing from the bad change on is applied (not even later changes of
 * other keys) nor acknowledged (the slot's confirmed_flush_lsn stays before
 * it), and once the target is fixed the source resumes on its own retry
 * with nothing lost and nothing doubled.
 */
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres, waitFor } from '@kuvasz/testkit';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  assertNoLeftovers,
  confirmedLsn,
  count,
  currentLsn,
  type Db,
  waitForSame,
} from './checks.js';
import { runCli } from './cli.js';
import { assertNoSecrets, freePort, killAll, startRun, tempDir, writeConfig } from './harness.js';
import { commitsMore, Workload } from './workload.js';

let a: PgCluster;
let b: PgCluster;
let dwhPg: PgCluster;
let srcA: Db;
let srcB: Db;
let dwh: Db;
let config: string;
let httpUrl: string;

beforeAll(async () => {
  [a, b, dwhPg] = await Promise.all([
    startPostgres({ version: 17 }),
    startPostgres({ version: 14 }),
    startPostgres({ version: 17 }),
  ]);
  const ddl = `CREATE TABLE orders (id int PRIMARY KEY, note text, qty int NOT NULL);
               INSERT INTO orders SELECT g, 'n' || g, g FROM generate_series(1, 100) g;`;
  srcA = { cluster: a, db: await a.createDatabase('shop') };
  srcB = { cluster: b, db: await b.createDatabase('shop') };
  await a.sql(ddl, [], srcA.db);
  await b.sql(ddl, [], srcB.db);
  dwh = { cluster: dwhPg, db: await dwhPg.createDatabase('warehouse') };
  const port = await freePort();
  httpUrl = `http://127.0.0.1:${port}`;
  config = writeConfig(
    tempDir(),
    'reject.yaml',
    `destination: { url: "${dwhPg.urlFor(dwh.db)}" }
databases:
  - database: shop
    urls:
      - { url: "${a.urlFor(srcA.db)}", sid: a }
      - { url: "${b.urlFor(srcB.db)}", sid: b }
    tables: { orders: }
apply: { workers: 2, flush_interval_ms: 100 }
http: { listen: "127.0.0.1:${port}" }
`,
  );
  const plan = runCli(['plan', '-c', config, '--apply']);
  expect(plan.status, plan.stderr).toBe(0);
  // The warehouse wants a note on every order; source a will not give one.
  await dwhPg.sql('ALTER TABLE orders ALTER COLUMN note SET NOT NULL', [], dwh.db);
});

afterAll(async () => {
  await killAll();
  await Promise.all([a, b, dwhPg].map((c) => c?.stop()));
});

interface ApiSource {
  sid: string;
  state: string;
  lastError?: { message: string; kind: string };
}

async function apiSources(): Promise<ApiSource[]> {
  const res = await fetch(`${httpUrl}/api/status`);
  return ((await res.json()) as { sources: ApiSource[] }).sources;
}

test('a rejected change stops only its source, is never acknowledged, and resumes once the target is fixed', async () => {
  const cli = startRun(config);
  const workB = new Workload(b, srcB.db, async (c, i) => {
    await c.query('INSERT INTO orders VALUES ($1, $2, $1)', [1000 + i, `b${i}`]);
    await c.query('UPDATE orders SET qty = qty + 1 WHERE id = $1', [1 + (i % 100)]);
  });
  try {
    await cli.waitForLogCount('streaming', 2);
    await waitForSame(
      srcA,
      'SELECT * FROM orders',
      dwh,
      "SELECT id, note, qty FROM orders WHERE sid = 'a'",
    );
    expect((await fetch(`${httpUrl}/readyz`)).status).toBe(200);

    // Good, bad, good: the bad change is the insert of order 5000 without a note.
    await a.sql("UPDATE orders SET note = 'before' WHERE id = 1", [], srcA.db);
    await waitFor(
      async () =>
        (await count(dwh, "SELECT 1 FROM orders WHERE sid = 'a' AND note = 'before'")) === 1,
      {
        timeoutMs: 30_000,
      },
    );
    const beforeBad = await currentLsn(srcA);
    await a.sql('INSERT INTO orders VALUES (5000, NULL, 1)', [], srcA.db);
    await a.sql(
      "INSERT INTO orders VALUES (5001, 'after', 1); UPDATE orders SET note = 'after' WHERE id = 2",
      [],
      srcA.db,
    );

    // The source stops and says which table, which key, and what the server said.
    await cli.waitForLog(/source failed \(apply\); retrying/, 30_000);
    const failure = cli
      .logs()
      .find((l) => l.sid === 'a' && /source failed \(apply\)/.test(String(l.msg)));
    const message = String((failure?.err as { message?: string } | undefined)?.message);
    expect(message).toMatch(/public\.orders/);
    expect(message).toMatch(/5000/);
    expect(message).toMatch(/null value in column "note"/);
    expect(cli.logs().some((l) => l.sid === 'b' && /source failed/.test(String(l.msg)))).toBe(
      false,
    );

    const sources = await waitFor(
      async () => {
        const s = await apiSources();
        return s.find((x) => x.sid === 'a')?.lastError ? s : undefined;
      },
      { timeoutMs: 10_000, message: '/api/status to show the error' },
    );
    expect(sources.find((s) => s.sid === 'a')?.lastError?.message).toMatch(
      /orders.*5000.*null value in column "note"/s,
    );
    expect(sources.find((s) => s.sid === 'b')?.state).toBe('streaming');
    expect((await fetch(`${httpUrl}/readyz`)).status).toBe(503);
    const status = runCli(['status', '-c', config, '--json']);
    expect(status.status, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as {
      sources: { sid: string; lastError: { message: string; kind: string } | null }[];
    };
    const reported = report.sources.find((s) => s.sid === 'a')?.lastError;
    expect(reported?.kind).toBe('apply');
    expect(reported?.message).toMatch(/orders.*5000.*null value in column "note"/s);
    assertNoSecrets(status.stdout + status.stderr, [a, b, dwhPg]);

    // Source b goes on meanwhile.
    await commitsMore(workB, 30);
    await workB.stop();
    await waitForSame(
      srcB,
      'SELECT * FROM orders',
      dwh,
      "SELECT id, note, qty FROM orders WHERE sid = 'b'",
    );

    // Retried and rejected again (at least twice); nothing from the bad change on is in
    // the destination (not even later changes of other keys) nor acknowledged.
    await cli.waitForLogCount(/source failed \(apply\); retrying/, 2, 30_000);
    expect(await count(dwh, "SELECT 1 FROM orders WHERE sid = 'a' AND id = 5000")).toBe(0);
    expect(await count(dwh, "SELECT 1 FROM orders WHERE sid = 'a' AND id = 5001")).toBe(0);
    expect(await count(dwh, "SELECT 1 FROM orders WHERE sid = 'a' AND note = 'after'")).toBe(0);
    const confirmed = await confirmedLsn(srcA, 'kuvasz_shop_a');
    expect(confirmed).toBeDefined();
    expect(
      (confirmed ?? 0n) <= beforeBad,
      `confirmed ${confirmed} must not pass ${beforeBad}`,
    ).toBe(true);

    // Fixed: the next retry resumes at the bad change; everything arrives once.
    await dwhPg.sql('ALTER TABLE orders ALTER COLUMN note DROP NOT NULL', [], dwh.db);
    await waitForSame(
      srcA,
      'SELECT * FROM orders',
      dwh,
      "SELECT id, note, qty FROM orders WHERE sid = 'a'",
      {
        timeoutMs: 90_000,
        message: 'source a after the fix',
      },
    );
    await waitFor(async () => ((await confirmedLsn(srcA, 'kuvasz_shop_a')) ?? 0n) > beforeBad, {
      timeoutMs: 30_000,
      message: 'the slot to confirm past the fixed change',
    });
    await waitFor(async () => (await apiSources()).every((s) => s.state === 'streaming'), {
      timeoutMs: 10_000,
    });
    expect((await fetch(`${httpUrl}/readyz`)).status).toBe(200);
  } finally {
    await workB.stop().catch(() => undefined);
    const res = await cli.stop('SIGTERM');
    expect(res.code, cli.stderr.slice(-2000)).toBe(0);
    assertNoSecrets(cli.output, [a, b, dwhPg]);
  }
  expect(runCli(['teardown', '-c', config, '--yes']).status).toBe(0);
  await assertNoLeftovers([a, b, dwhPg]);
});
