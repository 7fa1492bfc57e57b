/**
 * `apply.binary: true`: a PG 17 source whose column types all have
 * binary-to-text decoders is read in pgoutput's binary mode. Its copied,
 * inserted (COPY BINARY), updated, deleted, key-changed and streamed (large,
 * decoded at commit) rows land identical to the source, in a clone and a
 * history target. A source with a type that has no decoder is read in text
 * mode, saying why. A column of such a type added while streaming in binary
 * mode restarts the source in text mode without losing its row. A PG 14
 * source in binary mode too.
 */
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres, waitFor } from '@kuvasz/testkit';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { assertNoLeftovers, type Db, waitForSame } from './checks.js';
import { runCli } from './cli.js';
import { assertNoSecrets, killAll, startRun, tempDir, writeConfig } from './harness.js';

let src17: PgCluster;
let src14: PgCluster;
let dstPg: PgCluster;

beforeAll(async () => {
  [src17, src14, dstPg] = await Promise.all([
    startPostgres({ version: 17 }),
    startPostgres({ version: 14 }),
    startPostgres({ version: 17 }),
  ]);
  // Walsenders stream a transaction past this much decoded change data (decoded at its commit here).
  for (const c of [src17, src14]) {
    await c.sql("ALTER SYSTEM SET logical_decoding_work_mem = '64kB'");
    await c.sql('SELECT pg_reload_conf()');
  }
});

afterAll(async () => {
  await killAll();
  await Promise.all([src17, src14, dstPg].map((c) => c?.stop()));
});

const COLUMNS = `id int PRIMARY KEY, n numeric, r real, d double precision, t text, b bytea, ts timestamp,
  tstz timestamptz, day date, iv interval, j jsonb, u uuid, arr int[], tags text[], ok boolean, big bigint`;

/** One row per id, every type exercised; `i` varies the values. */
const ROWS = (from: number, to: number, i = 0) => `
  INSERT INTO items SELECT g, g * 1.5 + ${i}, g / 7.0, g / 3.0, 'row ' || g || E'\\t\\\\ ünï', decode(md5(g::text), 'hex'),
    '2024-01-01'::timestamp + g * interval '1 second', '2024-06-01 12:00+02'::timestamptz + g * interval '1 minute',
    '2000-02-29'::date + g, g * interval '1 hour 3 seconds', jsonb_build_object('g', g, 's', 'x"y'),
    md5(g::text)::uuid, ARRAY[g, NULL, -g], ARRAY['a b', g::text], g % 2 = 0, g::bigint << 40
  FROM generate_series(${from}, ${to}) g`;

const ORDERED = 'SELECT * FROM items';
/** The source's columns by name, in order (the destination's tables have sid first). */
const COLUMNS_LIST = COLUMNS.split(/,\s*(?![^()]*\))/)
  .map((c) => c.trim().split(/\s+/)[0])
  .join(', ');

async function sourceDb(cluster: PgCluster): Promise<Db> {
  const db = await cluster.createDatabase();
  await cluster.sql(`CREATE TABLE items (${COLUMNS}); ${ROWS(1, 500)}`, [], db);
  return { cluster, db };
}

test('binary mode: copy, COPY BINARY inserts, updates, deletes, key changes and a streamed transaction land identical; clone and history', async () => {
  const src = await sourceDb(src17);
  const old = await sourceDb(src14);
  // A source with a type that has no binary-to-text decoder.
  const geo: Db = { cluster: src17, db: await src17.createDatabase() };
  await src17.sql(
    `CREATE TABLE places (id int PRIMARY KEY, at point); INSERT INTO places VALUES (1, '(1,2)')`,
    [],
    geo.db,
  );
  const dst: Db = { cluster: dstPg, db: await dstPg.createDatabase() };
  await dstPg.sql(
    `CREATE TABLE items (sid text, ${COLUMNS.replace('id int PRIMARY KEY', 'id int')}, PRIMARY KEY (sid, id));
     CREATE TABLE items_h (sid text, ${COLUMNS.replace('id int PRIMARY KEY', 'id int')},
       kvsz_start timestamptz, kvsz_end timestamptz, kvsz_deleted boolean);
     CREATE TABLE places (sid text, id int, at point, PRIMARY KEY (sid, id));`,
    [],
    dst.db,
  );
  const config = writeConfig(
    tempDir(),
    'binary.yaml',
    `destination: { url: "${dstPg.urlFor(dst.db)}" }
databases:
  - database: app
    urls: [{ url: "${src17.urlFor(src.db)}", sid: b17 }, { url: "${src14.urlFor(old.db)}", sid: b14 }]
    tables:
      items:
      items_h: { target: items_h, type: history }
  - database: geo
    urls: [{ url: "${src17.urlFor(geo.db)}", sid: g }]
    tables:
      places:
apply: { binary: true }
`,
  );
  // items_h is a second publication member with the same rows: a history target of the same data.
  for (const s of [src, old])
    await s.cluster.sql(
      `CREATE TABLE items_h (${COLUMNS}); INSERT INTO items_h SELECT * FROM items`,
      [],
      s.db,
    );
  const cli = startRun(config);
  try {
    await waitFor(() => cli.countLogs('reading the source in binary mode') === 2, {
      timeoutMs: 60_000,
      message: `both app sources in binary mode; log: ${cli.stderr.slice(-2000)}`,
    });
    const textMode = cli.logs().filter((l) => /read in text mode/.test(String(l.msg)));
    expect(textMode).toHaveLength(1);
    expect(String(textMode[0]!.reason)).toMatch(/places\.at.*point/);
    await cli.waitForLog('streaming');
    for (const s of [src, old]) {
      const sid = s === src ? 'b17' : 'b14';
      await waitForSame(s, ORDERED, dst, `SELECT ${COLUMNS_LIST} FROM items WHERE sid = '${sid}'`, {
        message: `copy of ${sid}`,
      });
      await s.cluster.sql(
        `${ROWS(501, 3000, 1)};
         UPDATE items SET n = -n, tags = tags || '{"x,y"}', iv = -iv WHERE id % 3 = 0;
         DELETE FROM items WHERE id % 5 = 0;
         UPDATE items SET id = id + 100000 WHERE id BETWEEN 10 AND 20;
         INSERT INTO items_h SELECT * FROM items WHERE id > 500;
         UPDATE items_h SET t = t || '!' WHERE id % 4 = 0;
         DELETE FROM items_h WHERE id % 6 = 0;`,
        [],
        s.db,
      );
      // One large transaction: streamed by the server, decoded at its commit.
      await s.cluster.sql(
        `BEGIN; ${ROWS(200001, 204000, 2)}; UPDATE items SET ok = NOT ok WHERE id > 200000; COMMIT;`,
        [],
        s.db,
      );
      await waitForSame(s, ORDERED, dst, `SELECT ${COLUMNS_LIST} FROM items WHERE sid = '${sid}'`, {
        message: `stream of ${sid}`,
      });
      await waitForSame(
        s,
        'SELECT * FROM items_h',
        dst,
        `SELECT ${COLUMNS_LIST} FROM items_h WHERE sid = '${sid}' AND NOT kvsz_deleted AND kvsz_end = '9999-01-01 00:00:00+00'`,
        { message: `history of ${sid}` },
      );
      const streamed = await s.cluster.sql<{ n: string }>(
        'SELECT stream_txns::text AS n FROM pg_stat_replication_slots WHERE slot_name = $1',
        [`kuvasz_app_${sid}`],
        s.db,
      );
      expect(Number(streamed[0]?.n ?? 0), `streamed transactions of ${sid}`).toBeGreaterThan(0);
    }
    await waitForSame(
      geo,
      'SELECT id, at::text FROM places',
      dst,
      "SELECT id, at::text FROM places WHERE sid = 'g'",
    );

    // A column of a type without a decoder, added while streaming in binary mode: the source
    // restarts in text mode, and its row arrives.
    await src17.sql(
      `ALTER TABLE items ADD COLUMN at point; INSERT INTO items (id, t, at) VALUES (900000, 'after', '(3,4)')`,
      [],
      src.db,
    );
    await waitFor(
      async () =>
        (
          await dstPg.sql<{ t: string }>(
            `SELECT t FROM items WHERE sid = 'b17' AND id = 900000`,
            [],
            dst.db,
          )
        )[0]?.t === 'after',
      {
        timeoutMs: 60_000,
        message: `the row after the new column; log: ${cli.stderr.slice(-2000)}`,
      },
    );
    expect(
      cli.logs().some((l) => /no binary-to-text decoder/.test(JSON.stringify(l.err ?? ''))),
    ).toBe(true);
    expect(
      cli
        .logs()
        .filter(
          (l) => /read in text mode/.test(String(l.msg)) && /items\.at/.test(String(l.reason)),
        ),
    ).toHaveLength(1);
  } finally {
    const res = await cli.stop('SIGTERM');
    expect(res.code, cli.stderr.slice(-2000)).toBe(0);
  }
  assertNoSecrets(cli.output, [src17, src14, dstPg]);
  expect(runCli(['teardown', '-c', config, '--yes']).status).toBe(0);
  await assertNoLeftovers([src17, src14]);
}, 240_000);
