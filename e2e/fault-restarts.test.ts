/**
 * Faults around a running streamer, under a steady workload on two sources
 * (PG 14 and PG 17): the destination restarted and crashed, a source
 * restarted, the walsender killed with pg_terminate_backend. The streamer
 * keeps running through all of them (no restart of the process), and after
 * each one the destination equals the sources: nothing lost, nothing doubled.
 */
import type { PgCluster } from '@kuvasz/testkit';
import { waitFor } from '@kuvasz/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { assertNoLeftovers, type Db, historyProblems, OPEN, waitForSame } from './checks.js';
import { runCli } from './cli.js';
import { assertNoSecrets, type CliProcess, killAll, startRun } from './harness.js';
import { twoSourcesIntoWarehouse } from './two-sources.js';
import { commitsMore, Workload } from './workload.js';

const DDL = `
CREATE TABLE stock (sku int PRIMARY KEY, qty int NOT NULL, version int NOT NULL DEFAULT 0);
CREATE TABLE moves (id bigserial PRIMARY KEY, sku int NOT NULL, delta int NOT NULL);
CREATE TABLE costs (sku int PRIMARY KEY, cost int NOT NULL, version int NOT NULL DEFAULT 0);
INSERT INTO stock SELECT g, 0 FROM generate_series(1, 500) g;
INSERT INTO costs SELECT g, 10 FROM generate_series(1, 50) g;
`;

let a: PgCluster;
let b: PgCluster;
let dwhPg: PgCluster;
let dwh: Db;
let config: string;
let cli: CliProcess;
const sources: { sid: string; db: Db; work?: Workload }[] = [];

beforeAll(async () => {
  const setup = await twoSourcesIntoWarehouse({
    database: 'stock',
    ddl: DDL,
    file: 'faults.yaml',
    tables: ['stock:', 'moves: { type: append }', 'costs: { type: history }'],
  });
  ({ a, b, dwhPg, dwh, config } = setup);
  sources.push(...setup.sources);
  cli = startRun(config);
  await cli.waitForLogCount('streaming', 2);
  // Connection failures are expected below: the workloads reconnect and go on.
  for (const s of sources) {
    s.work = new Workload(
      s.db.cluster,
      s.db.db,
      async (c, i) => {
        const sku = 1 + ((i * 13) % 500);
        await c.query('UPDATE stock SET qty = qty + 1, version = version + 1 WHERE sku = $1', [
          sku,
        ]);
        await c.query('INSERT INTO moves (sku, delta) VALUES ($1, 1)', [sku]);
        await c.query('UPDATE costs SET cost = cost + 1, version = version + 1 WHERE sku = $1', [
          1 + (i % 50),
        ]);
      },
      { survive: true },
    );
  }
});

afterAll(async () => {
  await Promise.all(sources.map((s) => s.work?.stop().catch(() => undefined)));
  await killAll();
  await Promise.all([a, b, dwhPg].map((c) => c?.stop()));
});

function work(sid: string): Workload {
  const w = sources.find((s) => s.sid === sid)?.work;
  if (!w) throw new Error(`no workload for ${sid}`);
  return w;
}

/** Pauses the writes, checks the destination equals both sources, resumes. */
async function expectConverged(what: string): Promise<void> {
  for (const s of sources) s.work?.pause();
  try {
    for (const { sid, db } of sources) {
      await waitForSame(
        db,
        'SELECT sku, qty, version FROM stock',
        dwh,
        `SELECT sku, qty, version FROM stock WHERE sid = '${sid}'`,
        { message: `stock of ${sid} after ${what}`, timeoutMs: 90_000 },
      );
      await waitForSame(
        db,
        'SELECT id, sku, delta FROM moves',
        dwh,
        `SELECT id, sku, delta FROM moves WHERE sid = '${sid}'`,
        { message: `moves of ${sid} after ${what}` },
      );
      await waitForSame(
        db,
        'SELECT sku, cost, version FROM costs',
        dwh,
        `SELECT sku, cost, version FROM costs WHERE sid = '${sid}' AND ${OPEN}`,
        { message: `open cost versions of ${sid} after ${what}` },
      );
    }
    expect(await historyProblems(dwh, 'costs', ['sku'], { versionColumn: 'version' })).toEqual([]);
    expect(cli.running, `the streamer exited after ${what}:\n${cli.stderr.slice(-2000)}`).toBe(
      true,
    );
  } finally {
    for (const s of sources) s.work?.resume();
  }
}

describe.sequential('faults under a running streamer', () => {
  test('destination restarted mid-stream', async () => {
    await commitsMore(work('a'), 50);
    await dwhPg.restart();
    await commitsMore(work('a'), 50);
    await commitsMore(work('b'), 50);
    await expectConverged('the destination restart');
  });

  test('destination crashed (SIGKILL of its postmaster) mid-stream', async () => {
    await commitsMore(work('b'), 50);
    await dwhPg.kill();
    // Sources keep committing while the destination is down.
    await commitsMore(work('a'), 30);
    await dwhPg.start();
    await commitsMore(work('b'), 50);
    await expectConverged('the destination crash');
  });

  test('source restarted mid-stream', async () => {
    await commitsMore(work('a'), 50);
    const failed = work('a').failures;
    await a.restart();
    await commitsMore(work('a'), 50);
    expect(work('a').failures).toBeGreaterThan(failed);
    await waitFor(
      async () => (await a.slots()).some((s) => s.slot_name === 'kuvasz_stock_a' && s.active),
      { timeoutMs: 60_000, message: 'the streamer to reconnect to source a' },
    );
    await commitsMore(work('b'), 20);
    await expectConverged('the source restart');
  });

  test('walsender killed with pg_terminate_backend', async () => {
    await commitsMore(work('b'), 50);
    const before = (await b.slots()).find((s) => s.slot_name === 'kuvasz_stock_b');
    expect(before?.active_pid).toBeTruthy();
    await b.sql('SELECT pg_terminate_backend($1)', [before?.active_pid]);
    await waitFor(
      async () => {
        const now = (await b.slots()).find((s) => s.slot_name === 'kuvasz_stock_b');
        return now?.active && now.active_pid !== before?.active_pid;
      },
      { timeoutMs: 60_000, message: 'a new walsender for source b' },
    );
    await commitsMore(work('b'), 50);
    await expectConverged('the walsender kill');
  });

  test('stops cleanly afterwards and leaves nothing behind', async () => {
    await Promise.all(sources.map((s) => s.work?.stop()));
    await expectConverged('the workload stopped');
    const res = await cli.stop('SIGTERM');
    expect(res.code, cli.stderr.slice(-2000)).toBe(0);
    assertNoSecrets(cli.output, [a, b, dwhPg]);
    expect(runCli(['teardown', '-c', config, '--yes']).status).toBe(0);
    await assertNoLeftovers([a, b, dwhPg]);
  });
});
