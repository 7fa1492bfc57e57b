/**
 * Row filters and computed columns (CEL, fail closed), end to end: the
 * initial copy and the stream keep the same rows and compute the same
 * values; rows move in and out of the filter in clone, append and history
 * targets; a bad expression is a configuration error (exit 2, naming the
 * table, the expression and the position); an expression that fails on a
 * row stops its source until the configuration is fixed (SIGHUP).
 */
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres } from '@kuvasz/testkit';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { assertNoLeftovers, type Db, waitForSame } from './checks.js';
import { runCli } from './cli.js';
import { killAll, startRun, tempDir, writeConfig } from './harness.js';

let srcPg: PgCluster;
let dwhPg: PgCluster;
let shop: Db;
let dwh: Db;
const dir = tempDir();

const FILTER = 'status == "open" && amount >= 10.0';
const KEPT = "status = 'open' AND amount >= 10";
const SET = `{ email_lc: 'email == null ? "" : email.lowerAscii()', tag: 'sid + "-" + string(id)' }`;

function config(name: string, tables: string, db: Db = shop, database = 'shop'): string {
  return writeConfig(
    dir,
    name,
    `destination: { url: "${dwhPg.urlFor(dwh.db)}" }
databases:
  - database: ${database}
    urls: [{ url: "${srcPg.urlFor(db.db)}", sid: s1 }]
    tables:
${tables}
apply: { flush_interval_ms: 50 }
`,
  );
}

beforeAll(async () => {
  [srcPg, dwhPg] = await Promise.all([
    startPostgres({ version: 14 }),
    startPostgres({ version: 17 }),
  ]);
  shop = { cluster: srcPg, db: await srcPg.createDatabase('shop') };
  dwh = { cluster: dwhPg, db: await dwhPg.createDatabase('warehouse') };
  for (const t of ['o_clone', 'o_append', 'o_hist']) {
    await srcPg.sql(
      `CREATE TABLE ${t} (id int PRIMARY KEY, status text NOT NULL, amount numeric NOT NULL, email text);
       INSERT INTO ${t} SELECT g, CASE WHEN g % 3 = 0 THEN 'closed' ELSE 'open' END, g,
                               CASE WHEN g % 7 = 0 THEN NULL ELSE 'User' || g || '@Example.COM' END
                          FROM generate_series(1, 60) g;`,
      [],
      shop.db,
    );
  }
});

afterAll(async () => {
  await killAll();
  await Promise.all([srcPg, dwhPg].map((c) => c?.stop()));
});

const expectedRows = (table: string) =>
  `SELECT id, status, amount, coalesce(lower(email), ''), 's1-' || id FROM ${table} WHERE ${KEPT}`;
const targetRows = (table: string, where = 'true') =>
  `SELECT id, status, amount, email_lc, tag FROM ${table} WHERE ${where}`;

test('copy and stream keep the same rows; rows move in and out for clone, append and history', async () => {
  const file = config(
    'filters.yaml',
    `      o_clone: { type: clone, filter: '${FILTER}', set: ${SET} }
      o_append: { type: append, filter: '${FILTER}', set: ${SET} }
      o_hist: { type: history, filter: '${FILTER}', set: ${SET} }`,
  );
  const plan = runCli(['plan', '-c', file, '--apply']);
  expect(plan.status, plan.stderr).toBe(0);
  // The computed columns get the type of their expression.
  expect(plan.stdout).toMatch(/"?email_lc"? text/);
  expect(plan.stdout).toMatch(/"?tag"? text/);
  const valid = runCli(['validate', '-c', file]);
  expect(valid.status, valid.stdout + valid.stderr).toBe(0);

  const cli = startRun(file);
  try {
    await cli.waitForLog('streaming');
    // The initial copy: only the kept rows, with the computed columns.
    for (const t of ['o_clone', 'o_append'])
      await waitForSame(shop, expectedRows(t), dwh, targetRows(t));
    await waitForSame(
      shop,
      expectedRows('o_hist'),
      dwh,
      targetRows('o_hist', "kvsz_end = '9999-01-01 00:00:00+00'"),
    );

    for (const t of ['o_clone', 'o_append', 'o_hist']) {
      const q = (sql: string) => srcPg.sql(sql, [], shop.db);
      await q(`INSERT INTO ${t} VALUES (100, 'open', 50, 'A@B.C'), (101, 'closed', 50, 'x')`);
      await q(
        `UPDATE ${t} SET status = 'closed' WHERE id = 10; UPDATE ${t} SET status = 'open' WHERE id = 12; UPDATE ${t} SET amount = 5 WHERE id = 11`,
      );
      await q(`DELETE FROM ${t} WHERE id IN (13, 15)`);
      await q(`UPDATE ${t} SET email = 'NEW@X.Y' WHERE id = 14`);
      await q(`INSERT INTO ${t} VALUES (999, 'open', 99, 'marker')`);
    }

    // Clone mirrors exactly the rows the filter keeps now.
    await waitForSame(shop, expectedRows('o_clone'), dwh, targetRows('o_clone'));
    // Append: what left the filter (10, 11) or was deleted (13) stays as it was last kept.
    await waitForSame(
      shop,
      `${expectedRows('o_append')} UNION ALL VALUES (10, 'open', 10, 'user10@example.com', 's1-10'), (11, 'open', 11, 'user11@example.com', 's1-11'), (13, 'open', 13, 'user13@example.com', 's1-13')`,
      dwh,
      targetRows('o_append'),
    );
    // History: the open versions are the kept rows; 10 and 11 were closed, not deleted; 13 deleted.
    await waitForSame(
      shop,
      expectedRows('o_hist'),
      dwh,
      targetRows('o_hist', "kvsz_end = '9999-01-01 00:00:00+00'"),
    );
    const closed = await dwhPg.sql<{ id: number; deleted: boolean; email_lc: string }>(
      `SELECT id, kvsz_deleted AS deleted, email_lc FROM o_hist
        WHERE kvsz_end <> '9999-01-01 00:00:00+00' ORDER BY id`,
      [],
      dwh.db,
    );
    expect(closed).toEqual([
      { id: 10, deleted: false, email_lc: 'user10@example.com' },
      { id: 11, deleted: false, email_lc: 'user11@example.com' },
      { id: 13, deleted: true, email_lc: 'user13@example.com' },
      { id: 14, deleted: false, email_lc: '' },
    ]);
    // Rows moving in and out of the filter are normal: the source never failed.
    expect(cli.logs().filter((l) => l.msg === 'source failed (apply); retrying')).toEqual([]);
    const exit = await cli.stop();
    expect(exit.code, cli.stderr.slice(-2000)).toBe(0);
  } finally {
    await cli.stop('SIGKILL');
  }
  expect(runCli(['teardown', '-c', file, '--yes']).status).toBe(0);
}, 180_000);

test('a bad expression is a configuration error naming the table, the expression and the position', async () => {
  const typo = config('typo.yaml', `      o_clone: { filter: 'amout > 1.0' }`);
  const v = runCli(['validate', '-c', typo]);
  expect(v.status).toBe(2);
  expect(v.stdout).toContain(
    'problem: table public.o_clone: filter "amout > 1.0": Unknown variable: amout (at character 1)',
  );
  const wrongType = config('type.yaml', `      o_clone: { set: { tag: 'id + "x"' } }`);
  const r = runCli(['run', '-c', wrongType, '--log-format', 'json']);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain('shop (sid s1) table public.o_clone: set.tag');
  expect(r.stderr).toContain('no such overload: int + string (at character 1)');
  await dwhPg.sql('CREATE TABLE narrow (id int PRIMARY KEY, status text)', [], dwh.db);
  const missing = config(
    'missing.yaml',
    `      o_hist: { target: narrow, set: { nope: 'id * 2' } }`,
  );
  const m = runCli(['validate', '-c', missing]);
  expect(m.status).toBe(1);
  expect(m.stdout).toContain(
    'problem: public.narrow has no column nope, which set computes; add it (kuvasz-streamer plan prints a target with it)',
  );
  const syntax = config('syntax.yaml', `      o_clone: { filter: 'status ==' }`);
  const s = runCli(['validate', '-c', syntax]);
  expect(s.status).toBe(2);
  expect(s.stderr).toContain('filter "status ==": Unexpected token: EOF (at character 10)');
});

test('an expression that fails on a row stops its source (fail closed); fixing the configuration resumes it', async () => {
  const calc: Db = { cluster: srcPg, db: await srcPg.createDatabase('calc') };
  await srcPg.sql(
    'CREATE TABLE ratio (id int PRIMARY KEY, a int NOT NULL, b int NOT NULL); INSERT INTO ratio VALUES (1, 10, 2)',
    [],
    calc.db,
  );
  await dwhPg.sql('CREATE TABLE ratio (id int PRIMARY KEY, a int, b int, q bigint)', [], dwh.db);
  const write = (q: string) =>
    config('ratio.yaml', `      ratio: { set: { q: '${q}' } }`, calc, 'calc');
  const file = write('a / b');
  const cli = startRun(file);
  try {
    await cli.waitForLog('streaming');
    await waitForSame(calc, 'SELECT id, a / b FROM ratio', dwh, 'SELECT id, q FROM ratio');
    await srcPg.sql('INSERT INTO ratio VALUES (2, 1, 0)', [], calc.db);
    await srcPg.sql('INSERT INTO ratio VALUES (3, 9, 3)', [], calc.db);
    await cli.waitForLog('source failed (apply); retrying');
    const failed = cli.logs().find((l) => l.msg === 'source failed (apply); retrying');
    const err = failed?.err as { message?: string; code?: string } | undefined;
    expect(err?.code).toBe('rule_failed');
    expect(err?.message).toContain('public.ratio (id=\'2\'): set.q "a / b": division by zero');
    // Nothing from the failing change on: row 3 waits with it.
    expect(await dwhPg.sql('SELECT id FROM ratio ORDER BY id', [], dwh.db)).toEqual([{ id: 1 }]);

    write('b == 0 ? 0 : a / b');
    cli.child.kill('SIGHUP');
    await waitForSame(
      calc,
      'SELECT id, CASE WHEN b = 0 THEN 0 ELSE a / b END FROM ratio',
      dwh,
      'SELECT id, q FROM ratio',
    );
    const exit = await cli.stop();
    expect(exit.code, cli.stderr.slice(-2000)).toBe(0);
  } finally {
    await cli.stop('SIGKILL');
  }
  expect(runCli(['teardown', '-c', file, '--yes']).status).toBe(0);
}, 180_000);

test('sync.rows_per_second limits the initial copy (within 10 %), and the progress says so', async () => {
  const bulk: Db = { cluster: srcPg, db: await srcPg.createDatabase('bulk') };
  await srcPg.sql(
    "CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, 'x' FROM generate_series(1, 10000) g",
    [],
    bulk.db,
  );
  await dwhPg.sql('CREATE TABLE big (id int PRIMARY KEY, v text)', [], dwh.db);
  const file = writeConfig(
    dir,
    'rate.yaml',
    `destination: { url: "${dwhPg.urlFor(dwh.db)}" }
databases:
  - database: bulk
    urls: [{ url: "${srcPg.urlFor(bulk.db)}", sid: 1 }]
    tables: { big: }
sync: { rows_per_second: 4000, burst: 1000 }
`,
  );
  const cli = startRun(file);
  try {
    await cli.waitForLog('streaming');
    const time = (msg: string) => Number(cli.logs().find((l) => l.msg === msg)?.time);
    const seconds = (time('table synced') - time('copying table')) / 1000;
    // The burst goes at once, the rest at the rate.
    const rate = (10_000 - 1000) / seconds;
    expect(rate, `${rate.toFixed(0)} rows/s in ${seconds.toFixed(2)} s`).toBeGreaterThan(3600);
    expect(rate).toBeLessThan(4400);
    const progress = cli.logs().find((l) => l.msg === 'table synced' && l.limitRowsPerSecond);
    expect(progress?.limitRowsPerSecond).toBe(4000);
    expect((await cli.stop()).code).toBe(0);
  } finally {
    await cli.stop('SIGKILL');
  }
  expect(runCli(['teardown', '-c', file, '--yes']).status).toBe(0);
  await assertNoLeftovers([srcPg, dwhPg]);
}, 120_000);
