/**
 * Benchmark 2: catching up a backlog of row changes (in 10-change
 * transactions: 6 updates, 3 inserts, 1 delete) that piled up while the
 * consumer was away. Ours (a clone table, then a history table) against a
 * native subscription on the same source and the same backlog; both were
 * synced before the backlog was written, then paused (streamer stopped,
 * subscription disabled), then resumed and timed until the backlog's last
 * change is visible. Native replication has no history mode: the history row
 * compares our SCD2 apply with native's plain apply of the same changes.
 */
import { type PgCluster, startPostgres } from '@kuvasz/testkit';
import type { BenchSizes } from './config.js';
import { noteVersion } from './machine.js';
import { cli, StreamerProcess, writeConfig } from './streamer-process.js';
import type { CatchUpResult, CatchUpRow } from './types.js';
import { BENCH_SETTINGS, fmt, one, say, until } from './util.js';

const TX_ROWS = 10;

const SOURCE_DDL = `
CREATE TABLE bl_clone (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
CREATE TABLE bl_hist (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
-- One transaction per 10 changes; the last one sets the marker row (id 0).
CREATE PROCEDURE backlog(tbl text, iterations int, n int) LANGUAGE plpgsql AS $$
DECLARE k int := 0; lo int; hi int;
BEGIN
  WHILE k < iterations LOOP
    lo := k + 2; hi := n + 3 * k;           -- ids 1..k+1 are deleted by now, n+3k inserted
    FOR j IN 1..6 LOOP
      EXECUTE format('UPDATE %I SET v = v + 1 WHERE id = $1', tbl)
        USING lo + ((k * 7919 + j * 104729) % (hi - lo + 1));
    END LOOP;
    EXECUTE format('INSERT INTO %I SELECT g, 0, md5(g::text) FROM generate_series($1::int, $2::int) g', tbl)
      USING hi + 1, hi + 3;
    EXECUTE format('DELETE FROM %I WHERE id = $1', tbl) USING k + 1;
    COMMIT;
    k := k + 1;
  END LOOP;
  EXECUTE format('UPDATE %I SET v = 1 WHERE id = 0', tbl);
  COMMIT;
END $$;
`;

const PLAIN_DDL = `
CREATE TABLE bl_clone (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL);
CREATE TABLE bl_hist (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL);`;

const OPEN = "kvsz_end = '9999-01-01 00:00:00+00'";

async function waitSubscriptionIdle(s: PgCluster, db: string, sub: string) {
  await until(
    async () => {
      const r = await s.sql<{ active: boolean }>(
        'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
        [sub],
      );
      return r.length === 1 && !r[0]?.active;
    },
    { timeoutMs: 60_000, what: `subscription ${sub} to stop (db ${db})` },
  );
}

export async function benchCatchUp(
  sizes: BenchSizes,
): Promise<CatchUpResult & { problems: string[] }> {
  const s = await startPostgres({ version: 17, settings: BENCH_SETTINGS });
  const d = await startPostgres({ version: 17, settings: BENCH_SETTINGS });
  await Promise.all([noteVersion(s), noteVersion(d)]);
  const problems: string[] = [];
  try {
    const src = await s.createDatabase('cu');
    const ours = await d.createDatabase('cu_ours');
    const native = await d.createDatabase('cu_native');
    const iterations = Math.ceil(sizes.backlogChanges / TX_ROWS);
    const changes = iterations * TX_ROWS + 1;
    const n = Math.max(100_000, iterations + 1000);
    await s.sql(SOURCE_DDL, [], src);
    for (const t of ['bl_clone', 'bl_hist'])
      await s.sql(
        `INSERT INTO ${t} SELECT g, 0, md5(g::text) FROM generate_series(0, $1::int) g`,
        [n],
        src,
      );
    await d.sql(PLAIN_DDL, [], native);

    // Native: two subscriptions synced with copy_data, then disabled (their slots keep the backlog).
    for (const [sub, table] of [
      ['sub_c', 'bl_clone'],
      ['sub_h', 'bl_hist'],
    ] as const) {
      await s.sql(`CREATE PUBLICATION ${sub} FOR TABLE ${table}`, [], src);
      await d.sql(
        `CREATE SUBSCRIPTION ${sub} CONNECTION '${s.urlFor(src)}' PUBLICATION ${sub} WITH (copy_data = true)`,
        [],
        native,
      );
    }
    await until(
      async () =>
        Number(
          (
            await one<{ n: string }>(
              d,
              native,
              "SELECT count(*)::text AS n FROM pg_subscription_rel WHERE srsubstate <> 'r'",
            )
          ).n,
        ) === 0,
      { timeoutMs: 600_000, what: 'the native initial sync' },
    );
    for (const sub of ['sub_c', 'sub_h']) {
      await d.sql(`ALTER SUBSCRIPTION ${sub} DISABLE`, [], native);
      await waitSubscriptionIdle(s, native, sub);
    }

    // Ours: one slot per table type (two sids of the same database), synced, then stopped.
    const configs = new Map<'clone' | 'history', string>();
    for (const [type, sid, table] of [
      ['clone', 'c', 'bl_clone'],
      ['history', 'h', 'bl_hist'],
    ] as const) {
      const file = writeConfig(
        `catchup-${type}.yaml`,
        `destination: { url: "${d.urlFor(ours)}" }
databases:
  - database: cu
    urls: [{ url: "${s.urlFor(src)}", sid: ${sid} }]
    tables: { ${table}: { type: ${type} } }
`,
      );
      cli(['plan', '-c', file, '--apply']);
      const p = new StreamerProcess(file);
      try {
        await p.streaming(1, 600_000);
      } finally {
        await p.stop();
      }
      configs.set(type, file);
    }

    const rows: CatchUpRow[] = [];
    for (const [type, table, sub] of [
      ['clone', 'bl_clone', 'sub_c'],
      ['history', 'bl_hist', 'sub_h'],
    ] as const) {
      say(
        `catch-up ${type}: writing a backlog of ${fmt(changes)} changes in ${TX_ROWS}-change transactions`,
      );
      await s.sql('CALL backlog($1, $2, $3)', [table, iterations, n], src);
      const expected = await one<{ n: string; v: string }>(
        s,
        src,
        `SELECT count(*)::text AS n, sum(v)::text AS v FROM ${table}`,
      );
      await s.sql('CHECKPOINT');

      say(`catch-up ${type}: native subscription ...`);
      const t0 = performance.now();
      await d.sql(`ALTER SUBSCRIPTION ${sub} ENABLE`, [], native);
      await until(
        async () =>
          (await d.sql(`SELECT 1 FROM ${table} WHERE id = 0 AND v = 1`, [], native)).length === 1,
        { timeoutMs: 3_600_000, intervalMs: 50, what: `native catch-up of ${table}` },
      );
      const nativeSeconds = (performance.now() - t0) / 1000;
      await d.sql(`ALTER SUBSCRIPTION ${sub} DISABLE`, [], native);
      await waitSubscriptionIdle(s, native, sub);
      const gotNative = await one<{ n: string; v: string }>(
        d,
        native,
        `SELECT count(*)::text AS n, sum(v)::text AS v FROM ${table}`,
      );
      if (gotNative.n !== expected.n || gotNative.v !== expected.v)
        problems.push(
          `native ${table}: ${JSON.stringify(gotNative)} != source ${JSON.stringify(expected)}`,
        );
      say(`catch-up ${type}: native ${fmt(nativeSeconds, 1)} s`);

      say(`catch-up ${type}: kuvasz-streamer ...`);
      const marker =
        type === 'clone'
          ? `SELECT 1 FROM ${table} WHERE id = 0 AND v = 1`
          : `SELECT 1 FROM ${table} WHERE id = 0 AND v = 1 AND ${OPEN}`;
      const t1 = performance.now();
      const p = new StreamerProcess(configs.get(type) as string);
      let oursSeconds: number;
      try {
        await until(async () => (await d.sql(marker, [], ours)).length === 1, {
          timeoutMs: 3_600_000,
          intervalMs: 50,
          what: `kuvasz-streamer catch-up of ${table}`,
        });
        oursSeconds = (performance.now() - t1) / 1000;
      } finally {
        await p.stop();
      }
      for (const problem of p.problems()) problems.push(`${type}: ${problem}`);
      const gotOurs = await one<{ n: string; v: string }>(
        d,
        ours,
        `SELECT count(*)::text AS n, sum(v)::text AS v FROM ${table}${type === 'history' ? ` WHERE ${OPEN} AND NOT kvsz_deleted` : ''}`,
      );
      if (gotOurs.n !== expected.n || gotOurs.v !== expected.v)
        problems.push(
          `kuvasz-streamer ${table}: ${JSON.stringify(gotOurs)} != source ${JSON.stringify(expected)}`,
        );
      say(
        `catch-up ${type}: kuvasz-streamer ${fmt(oursSeconds, 1)} s (${fmt((p.streamingAt ?? 0) / 1000, 1)} s of it to start and connect), peak RSS ${fmt(p.peakRss() / 1e6)} MB`,
      );
      const oursStreamingSeconds = oursSeconds - (p.streamingAt ?? 0) / 1000;
      rows.push({
        type,
        changes,
        oursSeconds,
        oursStreamingSeconds,
        nativeSeconds,
        oursRowsPerSec: changes / oursSeconds,
        nativeRowsPerSec: changes / nativeSeconds,
        ratio: nativeSeconds / oursSeconds,
        peakRssBytes: p.peakRss(),
      });
    }
    for (const file of configs.values()) cli(['teardown', '-c', file, '--yes']);
    for (const sub of ['sub_c', 'sub_h']) await d.sql(`DROP SUBSCRIPTION ${sub}`, [], native);
    return { version: s.version, transactionRows: TX_ROWS, rows, problems };
  } finally {
    await s.stop();
    await d.stop();
  }
}
