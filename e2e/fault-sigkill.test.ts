/**
 * Fault: the streamer SIGKILLed at random moments (during startup, the
 * initial copy, streaming and applying) under a steady workload on two
 * sources (PG 14 and PG 17), restarted each time. At the end every clone
 * table equals its source, the append table holds each source row once, and
 * every history key has one unbroken chain of versions whose `version` column
 * steps by one: no update lost, none applied twice.
 *
 * KUVASZ_E2E_KILLS (default 10) sets the number of kills, KUVASZ_E2E_SEED the
 * random moments (printed on failure, to replay a run).
 */
import type { PgCluster } from '@kuvasz/testkit';
import { waitFor } from '@kuvasz/testkit';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { assertNoLeftovers, count, type Db, historyProblems, OPEN, waitForSame } from './checks.js';
import { runCli } from './cli.js';
import { assertNoSecrets, killAll, startRun } from './harness.js';
import { twoSourcesIntoWarehouse } from './two-sources.js';
import { commitsMore, Workload } from './workload.js';

const KILLS = Number(process.env.KUVASZ_E2E_KILLS ?? 10);
const SEED = Number(process.env.KUVASZ_E2E_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DDL = `
CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, version int NOT NULL DEFAULT 0);
CREATE TABLE ledger (id bigserial PRIMARY KEY, account int NOT NULL, amount int NOT NULL);
CREATE TABLE rates (code text PRIMARY KEY, rate int NOT NULL, version int NOT NULL DEFAULT 0);
INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 2000) g;
INSERT INTO ledger (account, amount) SELECT 1 + g % 2000, g FROM generate_series(1, 100000) g;
INSERT INTO rates SELECT 'c' || g, 100 FROM generate_series(1, 100) g;
`;

let a: PgCluster;
let b: PgCluster;
let dwhPg: PgCluster;
let dwh: Db;
let config: string;
const sources: { sid: string; db: Db }[] = [];

beforeAll(async () => {
  const setup = await twoSourcesIntoWarehouse({
    database: 'bank',
    ddl: DDL,
    file: 'kill.yaml',
    tables: ['accounts:', 'ledger: { type: append }', 'rates: { type: history }'],
  });
  ({ a, b, dwhPg, dwh, config } = setup);
  sources.push(...setup.sources);
});

afterAll(async () => {
  await killAll();
  await Promise.all([a, b, dwhPg].map((c) => c?.stop()));
});

/**
 * Per transaction: one account updated, one ledger row, one rate updated
 * (`version + 1`); now and then an account replaced, a new rate key, a rate
 * key deleted. Keys are never re-inserted after a delete, so every history
 * chain is contiguous.
 */
function bankWorkload(db: Db): Workload {
  return new Workload(db.cluster, db.db, async (c, i) => {
    const acc = 1 + ((i * 37) % 2000);
    await c.query(
      'UPDATE accounts SET balance = balance + $1, version = version + 1 WHERE id = $2',
      [i, acc],
    );
    await c.query('INSERT INTO ledger (account, amount) VALUES ($1, $2)', [acc, i]);
    await c.query('UPDATE rates SET rate = rate + 1, version = version + 1 WHERE code = $1', [
      `c${1 + (i % 100)}`,
    ]);
    if (i % 25 === 0) {
      await c.query('DELETE FROM accounts WHERE id = $1', [acc]);
      await c.query('INSERT INTO accounts VALUES ($1, $2)', [100_000 + i, i]);
      await c.query('INSERT INTO rates (code, rate) VALUES ($1, $2)', [`n${i}`, i]);
    }
    if (i % 40 === 0) await c.query('DELETE FROM rates WHERE code = $1', [`n${i - 15}`]);
  });
}

test(
  `${KILLS} SIGKILLs at random moments under a steady workload lose and duplicate nothing`,
  async () => {
    const random = rng(SEED);
    const seed = `(KUVASZ_E2E_SEED=${SEED})`;
    const workloads = sources.map((s) => bankWorkload(s.db));
    const moments: string[] = [];
    try {
      await Promise.all(workloads.map((w) => commitsMore(w, 10)));
      for (let k = 0; k < KILLS; k++) {
        const cli = startRun(config);
        // After the first, a third of the kills hit whatever the process is doing right
        // after start (preflight, slot, copy); the others hit the stream while it applies.
        let moment: string;
        if (k === 0) {
          // The first kill lands in the initial copy (100,000 ledger rows) of the new slots.
          await cli.waitForLog('slot created; copying tables', 60_000);
          moment = 'during the initial copy';
        } else if (random() < 1 / 3) {
          const ms = Math.round(200 + random() * 1500);
          await new Promise((r) => setTimeout(r, ms));
          moment = `${ms} ms after start`;
        } else {
          await cli.waitForLog('streaming', 60_000);
          const ms = Math.round(random() * 1500);
          await new Promise((r) => setTimeout(r, ms));
          moment = `${ms} ms into streaming`;
        }
        moments.push(`${moment} (${cli.countLogs('streaming')} streaming)`);
        const res = await cli.stop('SIGKILL');
        expect(res.signal, `kill ${k + 1} ${seed}`).toBe('SIGKILL');
        assertNoSecrets(cli.output, [a, b, dwhPg]);
        await commitsMore(workloads[k % 2] as Workload, 5);
      }
    } finally {
      await Promise.all(workloads.map((w) => w.stop()));
    }

    console.log(`[e2e] SIGKILL moments ${seed}: ${moments.join(', ')}`);
    const cli = startRun(config);
    try {
      await cli.waitForLogCount('streaming', 2);
      const why = `${seed}; kills at: ${moments.join(', ')}`;
      for (const { sid, db } of sources) {
        await waitForSame(
          db,
          'SELECT id, balance, version FROM accounts',
          dwh,
          `SELECT id, balance, version FROM accounts WHERE sid = '${sid}'`,
          { message: `accounts of ${sid} ${why}` },
        );
        await waitForSame(
          db,
          'SELECT id, account, amount FROM ledger',
          dwh,
          `SELECT id, account, amount FROM ledger WHERE sid = '${sid}'`,
          { message: `ledger of ${sid} ${why}` },
        );
        await waitForSame(
          db,
          'SELECT code, rate, version FROM rates',
          dwh,
          `SELECT code, rate, version FROM rates WHERE sid = '${sid}' AND ${OPEN} AND NOT kvsz_deleted`,
          { message: `open rate versions of ${sid} ${why}` },
        );
      }
      expect(
        await historyProblems(dwh, 'rates', ['code'], { versionColumn: 'version' }),
        why,
      ).toEqual([]);
      // Keys created by the workload start their chain at version 0.
      const late = await dwhPg.sql<{ code: string }>(
        "SELECT sid || '/' || code AS code FROM rates WHERE code LIKE 'n%' GROUP BY sid, code HAVING min(version) <> 0",
        [],
        dwh.db,
      );
      expect(late, why).toEqual([]);
      expect(
        await count(dwh, "SELECT 1 FROM rates WHERE code LIKE 'n%' AND kvsz_deleted"),
      ).toBeGreaterThan(0);
      await waitFor(() => cli.running, { timeoutMs: 1000 });
    } finally {
      const res = await cli.stop('SIGTERM');
      expect(res.code, cli.stderr.slice(-2000)).toBe(0);
    }
    expect(runCli(['teardown', '-c', config, '--yes']).status).toBe(0);
    await assertNoLeftovers([a, b, dwhPg]);
  },
  120_000 + KILLS * 10_000,
);
