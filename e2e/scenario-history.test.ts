/**
 * Scenario 3, keeping history the live database purges: an append table
 * keeps rows its source deletes and truncates; a history table's versions
 * follow the spec's example (insert, two updates, delete), each starting and
 * ending exactly at the source transaction's commit time, and an untouched
 * key keeps its single open version.
 */
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres } from '@kuvasz/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { assertNoLeftovers, type Db, historyProblems, waitForSame } from './checks.js';
import { runCli } from './cli.js';
import { assertNoSecrets, killAll, startRun, tempDir, writeConfig } from './harness.js';

let srcPg: PgCluster;
let dwhPg: PgCluster;
let payments: Db;
let dwh: Db;
let config: string;

beforeAll(async () => {
  [srcPg, dwhPg] = await Promise.all([
    // Commit timestamps let the test compare version bounds with the source's commit times.
    startPostgres({ version: 14, settings: { track_commit_timestamp: 'on' } }),
    startPostgres({ version: 17 }),
  ]);
  payments = { cluster: srcPg, db: await srcPg.createDatabase('payments') };
  dwh = { cluster: dwhPg, db: await dwhPg.createDatabase('warehouse') };
  await srcPg.sql(
    `CREATE TABLE transactions (id int PRIMARY KEY, amount numeric(12,2) NOT NULL, state text NOT NULL);
     CREATE TABLE employees (id int PRIMARY KEY, first_name text NOT NULL, last_name text NOT NULL, salary int NOT NULL);
     INSERT INTO transactions SELECT g, g, 'settled' FROM generate_series(1, 1000) g;
     INSERT INTO employees VALUES (2, 'Jane', 'Roe', 3000);`,
    [],
    payments.db,
  );
  config = writeConfig(
    tempDir(),
    'history.yaml',
    `destination: { url: "${dwhPg.urlFor(dwh.db)}" }
databases:
  - database: payments
    urls: [{ url: "${srcPg.urlFor(payments.db)}", sid: 1 }]
    tables:
      transactions: { type: append }
      employees: { type: history }
apply: { flush_interval_ms: 100 }
`,
  );
  const plan = runCli(['plan', '-c', config, '--apply']);
  expect(plan.status, plan.stderr).toBe(0);
});

afterAll(async () => {
  await killAll();
  await Promise.all([srcPg, dwhPg].map((c) => c?.stop()));
});

/** Runs one source transaction and returns its commit time as the server formats timestamptz. */
async function tx(client: pg.Client, sql: string): Promise<string> {
  await client.query('BEGIN');
  await client.query(sql);
  const xid = await client.query<{ xid: string }>('SELECT txid_current()::text AS xid');
  await client.query('COMMIT');
  const r = await client.query<{ at: string }>(
    "SELECT to_char(pg_xact_commit_timestamp($1::text::xid) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS at",
    [String(BigInt(xid.rows[0]?.xid ?? '0') & 0xffffffffn)],
  );
  return r.rows[0]?.at ?? '';
}

interface Version {
  salary: number;
  start: string;
  end: string;
  deleted: boolean;
}

async function versions(id: number): Promise<Version[]> {
  return dwhPg.sql<Version & Record<string, unknown>>(
    `SELECT salary,
            to_char(kvsz_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS start,
            to_char(kvsz_end AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS end,
            kvsz_deleted AS deleted
       FROM employees WHERE sid = '1' AND id = $1 ORDER BY kvsz_start`,
    [id],
    dwh.db,
  );
}

const BEGINNING = '1900-01-01 00:00:00.000000';
const FOREVER = '9999-01-01 00:00:00.000000';

test('append keeps what the source deletes and truncates; history versions follow the spec example', async () => {
  const cli = startRun(config);
  const client = await srcPg.connect(payments.db);
  try {
    await cli.waitForLog('streaming');
    await waitForSame(
      payments,
      'SELECT id, amount, state FROM transactions',
      dwh,
      'SELECT id, amount, state FROM transactions',
    );

    // The spec's example, one transaction per step.
    await tx(client, "INSERT INTO employees VALUES (1, 'John', 'Doe', 1000)");
    const raised = await tx(client, 'UPDATE employees SET salary = 1200 WHERE id = 1');
    const raisedAgain = await tx(client, 'UPDATE employees SET salary = 2000 WHERE id = 1');
    const left = await tx(client, 'DELETE FROM employees WHERE id = 1');
    // Insert and update of one key in one transaction: one version, the last state.
    await tx(
      client,
      "INSERT INTO employees VALUES (3, 'Max', 'Mustermann', 500); UPDATE employees SET salary = 600 WHERE id = 3",
    );

    // The append table: an update lands, deletes and the truncate do not.
    await tx(client, "UPDATE transactions SET state = 'refunded' WHERE id <= 10");
    await tx(client, 'DELETE FROM transactions WHERE id <= 500');
    await tx(client, 'TRUNCATE transactions');
    await tx(client, "INSERT INTO transactions VALUES (2000, 1.5, 'settled')");

    const expected: Version[] = [
      { salary: 1000, start: BEGINNING, end: raised, deleted: false },
      { salary: 1200, start: raised, end: raisedAgain, deleted: false },
      { salary: 2000, start: raisedAgain, end: left, deleted: true },
    ];
    await expect.poll(() => versions(1), { timeout: 30_000, interval: 200 }).toEqual(expected);
    expect(await versions(2)).toEqual([
      { salary: 3000, start: BEGINNING, end: FOREVER, deleted: false },
    ]);
    expect(await versions(3)).toEqual([
      { salary: 600, start: BEGINNING, end: FOREVER, deleted: false },
    ]);
    expect(await historyProblems(dwh, 'employees', ['id'])).toEqual([]);

    await expect
      .poll(
        async () =>
          dwhPg.sql(
            `SELECT count(*)::int AS n, count(*) FILTER (WHERE state = 'refunded')::int AS refunded,
                    count(*) FILTER (WHERE id = 2000)::int AS added
               FROM transactions WHERE sid = '1'`,
            [],
            dwh.db,
          ),
        { timeout: 30_000, interval: 200 },
      )
      .toEqual([{ n: 1001, refunded: 10, added: 1 }]);
    expect(await srcPg.sql('SELECT count(*)::int AS n FROM transactions', [], payments.db)).toEqual(
      [{ n: 1 }],
    );
  } finally {
    await client.end();
    const res = await cli.stop('SIGTERM');
    expect(res.code, cli.stderr.slice(-2000)).toBe(0);
    assertNoSecrets(cli.output, [srcPg, dwhPg]);
  }
  expect(runCli(['teardown', '-c', config, '--yes']).status).toBe(0);
  await assertNoLeftovers([srcPg, dwhPg]);
});
