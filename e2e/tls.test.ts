/**
 * TLS as libpq users expect it, on servers with a private CA: `sslmode=require`
 * encrypts without verifying; `verify-full` with `sslrootcert` checks the CA
 * and the host; a client certificate logs in without a password; a wrong CA
 * is refused with a message that names the host and the parameter to set.
 * Every connection the streamer makes (replication, copy, destination) is
 * encrypted, and no third-party warning line lands in the JSON log.
 */
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres, waitFor } from '@kuvasz/testkit';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { assertNoLeftovers, count, type Db } from './checks.js';
import { runCli } from './cli.js';
import { assertNoSecrets, killAll, startRun, tempDir, writeConfig } from './harness.js';

let srcPg: PgCluster;
let dstPg: PgCluster;
let src: Db;
let dst: Db;

beforeAll(async () => {
  [srcPg, dstPg] = await Promise.all([
    startPostgres({ version: 17, tls: true }),
    startPostgres({ version: 17, tls: true }),
  ]);
  src = { cluster: srcPg, db: await srcPg.createDatabase('app') };
  dst = { cluster: dstPg, db: await dstPg.createDatabase('dwh') };
  await srcPg.sql(
    'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, g::text FROM generate_series(1, 100) g',
    [],
    src.db,
  );
  await dstPg.sql('CREATE TABLE t (id int PRIMARY KEY, v text)', [], dst.db);
});

afterAll(async () => {
  await killAll();
  await Promise.all([srcPg, dstPg].map((c) => c?.stop()));
});

const withParams = (url: string, p: Record<string, string>) => `${url}?${new URLSearchParams(p)}`;

/** The source as the certificate role (no password), verifying the server. */
function certUrl(c: PgCluster, db: string): string {
  const tls = c.tls!;
  return withParams(`postgres://${tls.certUser}@${c.host}:${c.port}/${db}`, {
    sslmode: 'verify-full',
    sslrootcert: tls.ca,
    sslcert: tls.clientCert,
    sslkey: tls.clientKey,
  });
}

function config(sourceUrl: string, destUrl: string): string {
  return writeConfig(
    tempDir(),
    'tls.yaml',
    `destination: { url: "${destUrl}" }
databases:
  - database: app
    urls: [{ url: "${sourceUrl}", sid: s1 }]
    tables:
      t:
`,
  );
}

test('require and verify-full with a private CA; a client certificate; every connection encrypted; the JSON log stays JSON', async () => {
  const cfg = config(
    certUrl(srcPg, src.db),
    withParams(dstPg.urlFor(dst.db), { sslmode: 'require' }),
  );
  const validate = runCli(['validate', '-c', cfg]);
  expect(validate.status, validate.stdout + validate.stderr).toBe(0);
  expect(validate.stderr).not.toMatch(/SECURITY WARNING/);
  const cli = startRun(cfg);
  try {
    await cli.waitForLog('streaming');
    await srcPg.sql("INSERT INTO t VALUES (1000, 'over TLS')", [], src.db);
    await waitFor(async () => (await count(dst, 'SELECT 1 FROM t')) === 101, {
      timeoutMs: 30_000,
      message: 'the copied and the streamed rows',
    });
    // The streamer's sessions: the certificate role on the source, anything on the warehouse's database.
    for (const [c, who] of [
      [srcPg, "a.usename = 'kvsz_cert'"],
      [dstPg, "a.datname = 'dwh'"],
    ] as const) {
      const rows = await c.sql<{ ssl: boolean }>(
        `SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE ${who} AND a.pid <> pg_backend_pid()`,
        [],
        'postgres',
      );
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r.ssl)).toBe(true);
    }
  } finally {
    const res = await cli.stop('SIGTERM');
    expect(res.code, cli.stderr.slice(-2000)).toBe(0);
  }
  // Every line is a JSON record: nothing else wrote to stderr.
  for (const line of cli.stderr.split('\n').filter((l) => l.trim() !== ''))
    expect(() => JSON.parse(line), line).not.toThrow();
  assertNoSecrets(cli.output, [srcPg, dstPg]);
  expect(runCli(['teardown', '-c', cfg, '--yes']).status).toBe(0);
  await assertNoLeftovers([srcPg]);
}, 120_000);

test('a wrong CA: refused, naming the host and what to set, once', async () => {
  const wrong = withParams(srcPg.urlFor(src.db), {
    sslmode: 'verify-full',
    sslrootcert: srcPg.tls!.wrongCa,
  });
  const res = runCli(['validate', '-c', config(wrong, dstPg.urlFor(dst.db))]);
  expect(res.status).not.toBe(0);
  const out = res.stdout + res.stderr;
  expect(out).toMatch(new RegExp(`127\\.0\\.0\\.1:${srcPg.port}`));
  expect(out).toMatch(/sslrootcert=/);
  expect(out.match(/self-signed certificate|unable to verify/g)?.length ?? 0).toBeLessThanOrEqual(
    1,
  );
  assertNoSecrets(out, [srcPg, dstPg]);
});
