import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres, waitFor } from '@kuvasz/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { assertNoLeftovers } from './checks.js';
import { runCli } from './cli.js';
import {
  assertNoSecrets,
  CliProcess,
  killAll,
  tableRows,
  tempDir,
  writeConfig,
} from './harness.js';

const SOURCE_DDL = `
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, note text);
CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL, at timestamptz NOT NULL DEFAULT now());
CREATE TABLE prices (sku text PRIMARY KEY, price numeric(10,2) NOT NULL);
INSERT INTO customers SELECT g, 'c' || g, NULL FROM generate_series(1, 300) g;
INSERT INTO events (kind) SELECT 'seed' FROM generate_series(1, 100);
INSERT INTO prices SELECT 'p' || g, g FROM generate_series(1, 10) g;
`;

let a: PgCluster;
let b: PgCluster;
let dst: PgCluster;
let config: string;
const OPEN = `kvsz_end = '9999-01-01 00:00:00+00'`;

beforeAll(async () => {
  [a, b, dst] = await Promise.all([
    startPostgres({ version: 14 }),
    startPostgres({ version: 17 }),
    startPostgres({ version: 17 }),
  ]);
  for (const c of [a, b]) {
    await c.createDatabase('shop');
    await c.sql(SOURCE_DDL, [], 'shop');
  }
  await dst.createDatabase('dwh');
  config = writeConfig(
    tempDir(),
    'streamer.yaml',
    `destination:
  url: ${dst.urlFor('dwh')}
databases:
  - database: shop
    urls:
      - { url: "${a.urlFor('shop')}", sid: a }
      - { url: "${b.urlFor('shop')}", sid: b }
    tables:
      customers:
      events: { type: append }
      prices: { type: history }
apply: { workers: 2, flush_interval_ms: 100 }
log: { format: json }
`,
  );
  const plan = runCli(['plan', '-c', config, '--apply']);
  expect(plan.status, plan.stderr).toBe(0);
  expect(plan.stdout).toMatch(/CREATE TABLE "public"."prices"/);
});

afterAll(async () => {
  await killAll();
  await Promise.all([a, b, dst].map((c) => c?.stop()));
});

async function expectConverged(): Promise<void> {
  for (const [src, sid] of [
    [a, 'a'],
    [b, 'b'],
  ] as const) {
    await waitFor(
      async () => {
        const s = await tableRows(src, 'shop', 'SELECT id, name, note FROM customers');
        const d = await tableRows(
          dst,
          'dwh',
          `SELECT id, name, note FROM customers WHERE sid = '${sid}'`,
        );
        return s.length === d.length && s.every((r, i) => r === d[i]);
      },
      { timeoutMs: 30_000, message: `customers of ${sid} to converge` },
    );
    await waitFor(
      async () => {
        const s = await tableRows(src, 'shop', 'SELECT sku, price::text FROM prices');
        const d = await tableRows(
          dst,
          'dwh',
          `SELECT sku, price::text FROM prices WHERE sid = '${sid}' AND ${OPEN} AND NOT kvsz_deleted`,
        );
        return s.length === d.length && s.every((r, i) => r === d[i]);
      },
      { timeoutMs: 30_000, message: `open price versions of ${sid} to converge` },
    );
  }
}

describe('run: two sources (PG 14 and PG 17) into one PG 17 destination', () => {
  test('initial copy, then clone / append / history changes, each source in its own sid', async () => {
    const cli = new CliProcess(['run', '-c', config]);
    try {
      await cli.waitForLog('streaming');
      await waitFor(() => cli.logs().filter((l) => l.msg === 'streaming').length >= 2, {
        timeoutMs: 30_000,
      });
      await expectConverged();
      expect(
        await dst.sql("SELECT count(*)::int AS n FROM events WHERE sid = 'a'", [], 'dwh'),
      ).toEqual([{ n: 100 }]);

      await a.sql(
        `UPDATE customers SET name = 'renamed' WHERE id <= 5;
         DELETE FROM customers WHERE id > 290;
         INSERT INTO customers VALUES (1000, 'new', 'x');
         DELETE FROM events WHERE id <= 50;
         INSERT INTO events (kind) VALUES ('live');
         UPDATE prices SET price = price * 2 WHERE sku = 'p1';
         DELETE FROM prices WHERE sku = 'p2';`,
        [],
        'shop',
      );
      await b.sql(`UPDATE prices SET price = 99 WHERE sku = 'p3'; TRUNCATE events;`, [], 'shop');
      const [written] = await a.sql<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      await expectConverged();
      // append: the deletes and the truncate are ignored, the insert arrives.
      await waitFor(
        async () =>
          (
            await dst.sql<{ n: number }>(
              "SELECT count(*)::int AS n FROM events WHERE sid = 'a'",
              [],
              'dwh',
            )
          )[0]?.n === 101,
        {
          timeoutMs: 20_000,
        },
      );
      expect(
        await dst.sql("SELECT count(*)::int AS n FROM events WHERE sid = 'b'", [], 'dwh'),
      ).toEqual([{ n: 100 }]);
      // history: p1 has two versions (the second from the update's commit time), p2 is closed as deleted.
      const p1 = await dst.sql<{ price: string; deleted: boolean; open: boolean }>(
        `SELECT price::text, kvsz_deleted AS deleted, ${OPEN} AS open FROM prices WHERE sid = 'a' AND sku = 'p1' ORDER BY kvsz_start`,
        [],
        'dwh',
      );
      expect(p1).toEqual([
        { price: '1.00', deleted: false, open: false },
        { price: '2.00', deleted: false, open: true },
      ]);
      const p2 = await dst.sql(
        `SELECT kvsz_deleted AS deleted, ${OPEN} AS open FROM prices WHERE sid = 'a' AND sku = 'p2'`,
        [],
        'dwh',
      );
      expect(p2).toEqual([{ deleted: true, open: false }]);
      // Stopped right after the changes landed: the exit itself acknowledged them.
      const res = await cli.stop('SIGTERM');
      expect(res.code, cli.stderr.slice(-2000)).toBe(0);
      const [slot] = await a.sql<{ ok: boolean }>(
        "SELECT confirmed_flush_lsn >= $1::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = 'kuvasz_shop_a'",
        [written?.lsn],
      );
      expect(slot?.ok).toBe(true);
    } finally {
      const res = await cli.stop('SIGTERM');
      expect(res.code, cli.stderr.slice(-2000)).toBe(0);
      assertNoSecrets(cli.output, [a, b, dst]);
    }
  });

  test('SIGTERM mid-stream and a restart lose nothing and duplicate nothing', async () => {
    let running = true;
    const updates = new Map<string, number>();
    const workload = async (src: PgCluster, sid: string) => {
      const client = await src.connect('shop');
      let i = 0;
      try {
        while (running) {
          i++;
          const sku = `p${1 + (i % 10)}`;
          await client.query('BEGIN');
          await client.query("INSERT INTO events (kind) VALUES ('w')");
          await client.query('UPDATE customers SET note = $1 WHERE id = $2', [
            `n${i}`,
            1 + (i % 250),
          ]);
          const res = await client.query('UPDATE prices SET price = price + 1 WHERE sku = $1', [
            sku,
          ]);
          await client.query('COMMIT');
          // A deleted sku (p2 of source a) gets no update, hence no version.
          if (res.rowCount === 1)
            updates.set(`${sid}/${sku}`, (updates.get(`${sid}/${sku}`) ?? 0) + 1);
        }
      } finally {
        await client.end();
      }
    };
    let cli = new CliProcess(['run', '-c', config]);
    await waitFor(() => cli.logs().filter((l) => l.msg === 'streaming').length >= 2, {
      timeoutMs: 30_000,
    });
    // Counted once the destination holds the initial copy (this test may run alone).
    await expectConverged();
    const versionsBefore = new Map(
      (
        await dst.sql<{ k: string; n: number }>(
          "SELECT sid || '/' || sku AS k, count(*)::int AS n FROM prices GROUP BY 1",
          [],
          'dwh',
        )
      ).map((r) => [r.k, r.n]),
    );
    const eventsBefore = await dst.sql<{ sid: string; n: number }>(
      'SELECT sid, count(*)::int AS n FROM events GROUP BY sid ORDER BY sid',
      [],
      'dwh',
    );
    const sourceEventsBefore = await Promise.all(
      [a, b].map(
        async (c) =>
          (await c.sql<{ n: number }>('SELECT count(*)::int AS n FROM events', [], 'shop'))[0]?.n ??
          0,
      ),
    );

    const work = Promise.all([workload(a, 'a'), workload(b, 'b')]);
    await waitFor(() => [...updates.values()].reduce((x, y) => x + y, 0) > 200, {
      timeoutMs: 20_000,
    });
    const stopped = Date.now();
    const first = await cli.stop('SIGTERM');
    expect(first.code, cli.stderr.slice(-2000)).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(10_000);
    await waitFor(() => [...updates.values()].reduce((x, y) => x + y, 0) > 400, {
      timeoutMs: 20_000,
    });

    cli = new CliProcess(['run', '-c', config]);
    try {
      await waitFor(() => cli.logs().filter((l) => l.msg === 'streaming').length >= 2, {
        timeoutMs: 30_000,
      });
      await waitFor(() => [...updates.values()].reduce((x, y) => x + y, 0) > 600, {
        timeoutMs: 20_000,
      });
      running = false;
      await work;
      await expectConverged();
      // Every price update is exactly one new version: none lost, none doubled.
      await waitFor(
        async () => {
          const now = new Map(
            (
              await dst.sql<{ k: string; n: number }>(
                "SELECT sid || '/' || sku AS k, count(*)::int AS n FROM prices GROUP BY 1",
                [],
                'dwh',
              )
            ).map((r) => [r.k, r.n]),
          );
          return [...updates].every(([k, n]) => now.get(k) === (versionsBefore.get(k) ?? 0) + n);
        },
        { timeoutMs: 20_000, message: 'one history version per update' },
      );
      const open = await dst.sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM (SELECT sid, sku FROM prices WHERE ${OPEN} GROUP BY 1, 2 HAVING count(*) > 1) x`,
        [],
        'dwh',
      );
      expect(open).toEqual([{ n: 0 }]);
      // Every event inserted by the workload arrived once (append keeps the earlier ones).
      const sourceEventsAfter = await Promise.all(
        [a, b].map(
          async (c) =>
            (await c.sql<{ n: number }>('SELECT count(*)::int AS n FROM events', [], 'shop'))[0]
              ?.n ?? 0,
        ),
      );
      const eventsAfter = await dst.sql<{ sid: string; n: number }>(
        'SELECT sid, count(*)::int AS n FROM events GROUP BY sid ORDER BY sid',
        [],
        'dwh',
      );
      expect(eventsAfter.map((r, i) => r.n - (eventsBefore[i]?.n ?? 0))).toEqual(
        sourceEventsAfter.map((n, i) => n - (sourceEventsBefore[i] ?? 0)),
      );
    } finally {
      running = false;
      await work;
      const res = await cli.stop('SIGTERM');
      expect(res.code).toBe(0);
      assertNoSecrets(cli.output, [a, b, dst]);
    }
  });

  test('teardown drops both slots and publications; nothing of the streamer is left', async () => {
    const down = runCli(['teardown', '-c', config, '--yes']);
    expect(down.status, down.stdout + down.stderr).toBe(0);
    expect(
      down.stdout.match(/slot kuvasz_shop_[ab] dropped, publication kuvasz_shop_[ab] dropped/g),
    ).toHaveLength(2);
    assertNoSecrets(down.stdout + down.stderr, [a, b, dst]);
    await assertNoLeftovers([a, b, dst]);
    for (const c of [a, b])
      expect(await c.sql('SELECT pubname FROM pg_publication', [], 'shop')).toEqual([]);
  });
});
