/**
 * Shutdown is bounded: with the destination not answering (a session holds
 * an exclusive lock on the target), SIGTERM waits `shutdown_timeout_ms`,
 * then exits with code 3 naming the source that was not flushed. Nothing
 * is lost: the next start applies the change that was pending.
 */
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres, waitFor } from '@kuvasz/testkit';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { assertNoLeftovers, count, type Db } from './checks.js';
import { runCli } from './cli.js';
import { killAll, startRun, tempDir, writeConfig } from './harness.js';

let srcPg: PgCluster;
let dstPg: PgCluster;

beforeAll(async () => {
  [srcPg, dstPg] = await Promise.all([
    startPostgres({ version: 17 }),
    startPostgres({ version: 17 }),
  ]);
});

afterAll(async () => {
  await killAll();
  await Promise.all([srcPg, dstPg].map((c) => c?.stop()));
});

test('SIGTERM with the destination stuck exits 3 after shutdown_timeout_ms, naming the source; the next start applies what was pending', async () => {
  const src: Db = { cluster: srcPg, db: await srcPg.createDatabase('app') };
  const dst: Db = { cluster: dstPg, db: await dstPg.createDatabase('dwh') };
  await srcPg.sql('CREATE TABLE t (id int PRIMARY KEY, v text)', [], src.db);
  await dstPg.sql('CREATE TABLE t (id int PRIMARY KEY, v text)', [], dst.db);
  const config = writeConfig(
    tempDir(),
    'deadline.yaml',
    `destination: { url: "${dstPg.urlFor(dst.db)}" }
databases:
  - database: app
    urls: [{ url: "${srcPg.urlFor(src.db)}", sid: s1 }]
    tables:
      t:
apply: { shutdown_timeout_ms: 3000 }
`,
  );
  const first = startRun(config);
  const locker = await dstPg.connect(dst.db);
  try {
    await first.waitForLog('streaming');
    await srcPg.sql("INSERT INTO t VALUES (1, 'before')", [], src.db);
    await waitFor(async () => (await count(dst, 'SELECT 1 FROM t WHERE id = 1')) === 1, {
      timeoutMs: 30_000,
    });
    // The destination stops answering for t: the next group waits on the lock.
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
    await srcPg.sql("INSERT INTO t VALUES (2, 'pending')", [], src.db);
    await waitFor(
      async () =>
        (
          await dstPg.sql<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = 't'::regclass",
            [],
            dst.db,
          )
        )[0]?.n === 1,
      { timeoutMs: 30_000, message: 'the apply to wait on the lock' },
    );
    const t0 = Date.now();
    const res = await first.stop('SIGTERM', 30_000);
    const took = Date.now() - t0;
    expect(res.code, first.stderr.slice(-2000)).toBe(3);
    expect(took).toBeGreaterThanOrEqual(2500);
    expect(took).toBeLessThan(20_000);
    const line = first.logs().find((l) => /not flushed within 3000 ms/.test(String(l.msg)));
    expect(line?.sources, first.stderr.slice(-2000)).toEqual(['app (sid s1)']);
  } finally {
    await locker.query('ROLLBACK').catch(() => undefined);
    await locker.end();
  }
  // The group's message (rows, position, COMMIT) may still commit once the lock goes,
  // after the process left: then the position says so and the replay skips it.

  // Nothing was acknowledged past what was applied: the next start has row 2, once.
  const second = startRun(config);
  try {
    await second.waitForLog('streaming');
    await waitFor(async () => (await count(dst, 'SELECT 1 FROM t WHERE id = 2')) === 1, {
      timeoutMs: 30_000,
      message: 'the pending row after the restart',
    });
  } finally {
    const res = await second.stop('SIGTERM');
    expect(res.code, second.stderr.slice(-2000)).toBe(0);
  }
  expect(runCli(['teardown', '-c', config, '--yes']).status).toBe(0);
  await assertNoLeftovers([srcPg]);
}, 180_000);
