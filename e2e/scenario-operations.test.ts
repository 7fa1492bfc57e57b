/**
 * Scenario 5, operations, against one running streamer per source version
 * (`testedVersions()`: PG 14 and 17, into PG 17; the large transactions are
 * streamed in progress with protocol 2 on 14 and 4 on 17): a partition
 * created while running, a 20,000-character TOAST value kept across updates
 * in clone and history, TRUNCATE per table type, a large single transaction
 * and an aborted one, and a configuration reloaded with SIGHUP (a table added
 * is synced then streamed, a removed one stops).
 *
 * KUVASZ_E2E_BIG_ROWS sets the large transaction's size (default 200,000;
 * the 1,000,000 runs the same assertions, just slower).
 */
import crypto from 'node:crypto';
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres, testedVersions, waitFor } from '@kuvasz/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  assertNoLeftovers,
  count,
  type Db,
  digest,
  historyProblems,
  OPEN,
  waitForSame,
} from './checks.js';
import { runCli } from './cli.js';
import {
  assertNoSecrets,
  type CliProcess,
  killAll,
  startRun,
  tempDir,
  writeConfig,
} from './harness.js';

const BIG_ROWS = Number(process.env.KUVASZ_E2E_BIG_ROWS ?? 200_000);

const DDL = `
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL);
CREATE TABLE logs (id int PRIMARY KEY, line text NOT NULL);
CREATE TABLE prices (sku text PRIMARY KEY, price numeric(10,2) NOT NULL);
CREATE TABLE measurements (id int, region int NOT NULL, value numeric NOT NULL, PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE measurements_p1 PARTITION OF measurements FOR VALUES FROM (0) TO (1000);
CREATE TABLE measurements_p2 PARTITION OF measurements FOR VALUES FROM (1000) TO (2000);
CREATE TABLE docs (id int PRIMARY KEY, title text NOT NULL, body text);
CREATE TABLE doc_versions (id int PRIMARY KEY, title text NOT NULL, body text);
CREATE TABLE big (id bigint PRIMARY KEY, payload text NOT NULL);
CREATE TABLE retired (id int PRIMARY KEY, v text);
CREATE TABLE late (id int PRIMARY KEY, v text NOT NULL);
INSERT INTO items SELECT g, 'item ' || g, g FROM generate_series(1, 100) g;
INSERT INTO logs SELECT g, 'line ' || g FROM generate_series(1, 100) g;
INSERT INTO prices SELECT 'sku' || g, g FROM generate_series(1, 20) g;
INSERT INTO measurements SELECT g, g % 7, g * 0.5 FROM generate_series(0, 1999, 5) g;
INSERT INTO retired SELECT g, 'r' || g FROM generate_series(1, 10) g;
INSERT INTO late SELECT g, 'before ' || g FROM generate_series(1, 500) g;
`;

const TABLES = `      items:
      logs: { type: append }
      prices: { type: history }
      measurements:
      docs:
      doc_versions: { type: history }
      big:`;

/** 20,000 characters that do not compress, so the value is stored out of line (TOAST). */
function toastValue(seed: string): string {
  let out = '';
  for (let i = 0; out.length < 20_000; i++)
    out += crypto.createHash('sha256').update(`${seed}:${i}`).digest('base64');
  return out.slice(0, 20_000);
}

describe.sequential.each(testedVersions())(
  'operations on a running streamer, PG %i source',
  (version) => {
    let srcPg: PgCluster;
    let dwhPg: PgCluster;
    let shop: Db;
    let dwh: Db;
    let dir: string;
    let config: string;
    let cli: CliProcess;

    function configText(tables: string): string {
      return `destination: { url: "${dwhPg.urlFor(dwh.db)}" }
databases:
  - database: shop
    urls: [{ url: "${srcPg.urlFor(shop.db)}", sid: s1 }]
    tables:
${tables}
apply: { workers: 2, flush_interval_ms: 100 }
`;
    }

    beforeAll(async () => {
      [srcPg, dwhPg] = await Promise.all([
        // A small decoding budget: the large transactions below are streamed (and spilled) in progress.
        startPostgres({ version, settings: { logical_decoding_work_mem: '4MB' } }),
        startPostgres({ version: 17 }),
      ]);
      shop = { cluster: srcPg, db: await srcPg.createDatabase('shop') };
      dwh = { cluster: dwhPg, db: await dwhPg.createDatabase('warehouse') };
      await srcPg.sql(DDL, [], shop.db);
      dir = tempDir();
      config = writeConfig(dir, 'ops.yaml', configText(`${TABLES}\n      retired:`));
      const plan = runCli(['plan', '-c', config, '--apply']);
      expect(plan.status, plan.stderr).toBe(0);
      cli = startRun(config);
      await cli.waitForLog('streaming');
    });

    afterAll(async () => {
      await killAll();
      await Promise.all([srcPg, dwhPg].map((c) => c?.stop()));
    });

    test('a partition created while running is replicated through its root', async () => {
      await srcPg.sql(
        `CREATE TABLE measurements_p3 PARTITION OF measurements FOR VALUES FROM (2000) TO (3000);
       INSERT INTO measurements SELECT g, g % 7, g * 0.5 FROM generate_series(2000, 2999, 3) g;
       UPDATE measurements SET value = -1 WHERE id IN (5, 1005, 2003);
       DELETE FROM measurements WHERE id IN (10, 1010, 2006);`,
        [],
        shop.db,
      );
      await waitForSame(
        shop,
        'SELECT id, region, value FROM measurements',
        dwh,
        "SELECT id, region, value FROM measurements WHERE sid = 's1'",
        { message: 'measurements with the new partition' },
      );
      expect(await count(dwh, 'SELECT 1 FROM measurements WHERE id >= 2000')).toBe(333);
    });

    test('a 20,000-character TOAST value is kept across updates, in clone and in history', async () => {
      const body = toastValue('doc');
      const md5 = crypto.createHash('md5').update(body).digest('hex');
      const c = await srcPg.connect(shop.db);
      try {
        await c.query('INSERT INTO docs VALUES (1, $1, $2)', ['v0', body]);
        await c.query('INSERT INTO doc_versions VALUES (1, $1, $2)', ['v0', body]);
        // The updates leave body alone: pgoutput sends it as "unchanged TOAST".
        for (let v = 1; v <= 3; v++) {
          await c.query('UPDATE docs SET title = $1 WHERE id = 1', [`v${v}`]);
          await c.query('UPDATE doc_versions SET title = $1 WHERE id = 1', [`v${v}`]);
        }
      } finally {
        await c.end();
      }
      await waitFor(
        async () =>
          (await count(dwh, `SELECT 1 FROM doc_versions WHERE ${OPEN} AND title = 'v3'`)) === 1,
        { timeoutMs: 30_000, message: 'the last doc version' },
      );
      await waitForSame(
        shop,
        'SELECT id, title, body FROM docs',
        dwh,
        'SELECT id, title, body FROM docs',
      );
      const rows = await dwhPg.sql<{ title: string; len: number; md5: string }>(
        'SELECT title, length(body) AS len, md5(body) AS md5 FROM doc_versions ORDER BY kvsz_start',
        [],
        dwh.db,
      );
      expect(rows).toEqual(['v0', 'v1', 'v2', 'v3'].map((title) => ({ title, len: 20_000, md5 })));
      expect(await historyProblems(dwh, 'doc_versions', ['id'])).toEqual([]);
    });

    test('TRUNCATE: clone empties its sid, append keeps its rows, history closes every open version', async () => {
      const before = await digest(dwh, "SELECT id, line FROM logs WHERE sid = 's1'");
      expect(before.rows).toBe(100);
      await srcPg.sql('TRUNCATE items, logs, prices', [], shop.db);
      await srcPg.sql("INSERT INTO items VALUES (1, 'after truncate', 1)", [], shop.db);
      await waitForSame(
        shop,
        'SELECT id, name, qty FROM items',
        dwh,
        'SELECT id, name, qty FROM items',
      );
      await waitFor(async () => (await count(dwh, `SELECT 1 FROM prices WHERE ${OPEN}`)) === 0, {
        timeoutMs: 30_000,
        message: 'every open price version closed',
      });
      expect(await digest(dwh, "SELECT id, line FROM logs WHERE sid = 's1'")).toEqual(before);
      // Each of the 20 keys: one version, closed as deleted at the truncate's commit time.
      const closed = await dwhPg.sql(
        'SELECT count(*)::int AS n, count(DISTINCT kvsz_end)::int AS ends, bool_and(kvsz_deleted) AS deleted FROM prices',
        [],
        dwh.db,
      );
      expect(closed).toEqual([{ n: 20, ends: 1, deleted: true }]);
      expect(await historyProblems(dwh, 'prices', ['sku'])).toEqual([]);
    });

    test(
      `a ${BIG_ROWS.toLocaleString('en-US')}-row single transaction arrives whole; an aborted one leaves nothing`,
      async () => {
        const rssBefore = cli.peakRss();
        const c = await srcPg.connect(shop.db);
        try {
          await c.query('BEGIN');
          await c.query(
            "INSERT INTO big SELECT g, 'aborted ' || g FROM generate_series($1::bigint, $1::bigint + $2 - 1) g",
            [10_000_000, BIG_ROWS],
          );
          await c.query('ROLLBACK');
          // A small committed change after the abort: once it arrives, the abort has been read past.
          await c.query("INSERT INTO items VALUES (1002, 'after the abort', 2)");
        } finally {
          await c.end();
        }
        await waitFor(async () => (await count(dwh, 'SELECT 1 FROM items WHERE id = 1002')) === 1, {
          timeoutMs: 120_000,
          message: 'the change committed after the aborted transaction',
        });
        expect(await count(dwh, 'SELECT 1 FROM big')).toBe(0);

        const t0 = Date.now();
        await srcPg.sql(
          "INSERT INTO big SELECT g, repeat('x', 40) || g FROM generate_series(1, $1::bigint) g",
          [BIG_ROWS],
          shop.db,
        );
        const committed = Date.now();
        await waitFor(async () => (await count(dwh, 'SELECT 1 FROM big')) === BIG_ROWS, {
          timeoutMs: 600_000,
          intervalMs: 500,
          message: `${BIG_ROWS} rows of the large transaction`,
        });
        const applied = Date.now();
        await waitForSame(shop, 'SELECT id, payload FROM big', dwh, 'SELECT id, payload FROM big', {
          timeoutMs: 10_000,
        });
        const rss = cli.peakRss();
        console.log(
          `[e2e] PG ${version} source, ${BIG_ROWS} rows in one transaction: source commit ${((committed - t0) / 1000).toFixed(1)} s, visible in the destination ${((applied - committed) / 1000).toFixed(1)} s after commit; streamer peak RSS ${(rss / 2 ** 20).toFixed(0)} MB (before: ${(rssBefore / 2 ** 20).toFixed(0)} MB)`,
        );
      },
      Math.max(180_000, BIG_ROWS * 0.5),
    );

    test('SIGHUP: a table added to the configuration is synced then streamed; a removed one stops', async () => {
      writeConfig(dir, 'ops.yaml', configText(`${TABLES}\n      late: { target: late_arrival }`));
      const plan = runCli(['plan', '-c', config, '--apply']);
      expect(plan.status, plan.stderr).toBe(0);
      expect(plan.stdout).toMatch(/CREATE TABLE "public"\."late_arrival"/);
      await srcPg.sql("INSERT INTO late VALUES (501, 'before the reload')", [], shop.db);
      const streams = cli.countLogs('streaming');
      cli.child.kill('SIGHUP');
      await cli.waitForLogCount('streaming', streams + 1);
      expect(cli.countLogs('copying tables added to the configuration (stream paused)')).toBe(1);
      await waitForSame(shop, 'SELECT id, v FROM late', dwh, 'SELECT id, v FROM late_arrival', {
        message: 'late synced',
      });
      await srcPg.sql(
        `UPDATE late SET v = 'streamed' WHERE id <= 10; DELETE FROM late WHERE id > 490;
       INSERT INTO retired VALUES (100, 'after removal');
       INSERT INTO items VALUES (1003, 'marker', 3);`,
        [],
        shop.db,
      );
      await waitForSame(shop, 'SELECT id, v FROM late', dwh, 'SELECT id, v FROM late_arrival', {
        message: 'late streamed',
      });
      await waitFor(async () => (await count(dwh, 'SELECT 1 FROM items WHERE id = 1003')) === 1, {
        timeoutMs: 30_000,
      });
      // The removed table left the publication, and its change after the reload did not arrive.
      const published = await srcPg.sql<{ t: string }>(
        "SELECT tablename AS t FROM pg_publication_tables WHERE pubname = 'kuvasz_shop_s1' ORDER BY 1",
        [],
        shop.db,
      );
      expect(published.map((r) => r.t)).not.toContain('retired');
      expect(published.map((r) => r.t)).toContain('late');
      expect(await count(dwh, 'SELECT 1 FROM retired')).toBe(10);
    });

    test('stops on SIGTERM; teardown leaves no slot, connection or process', async () => {
      const res = await cli.stop('SIGTERM');
      expect(res.code, cli.stderr.slice(-2000)).toBe(0);
      assertNoSecrets(cli.output, [srcPg, dwhPg]);
      expect(runCli(['teardown', '-c', config, '--yes']).status).toBe(0);
      await assertNoLeftovers([srcPg, dwhPg]);
    });
  },
);
