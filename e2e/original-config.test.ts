/**
 * The original kuvasz-streamer's configuration, unchanged: its sample
 * map.yaml (URLs with `?replication=database&application_name=...`) and a
 * kuvasz-streamer.toml written as its documentation writes it, found by the
 * original's search path; `validate` then `run` stream a change. Then the
 * environment (KUVASZ_<section>_<param>) and a flag (--<section>.<param>)
 * over the file, and a bad value from each source named by its origin.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres, waitFor } from '@kuvasz/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { assertNoLeftovers } from './checks.js';
import { runCli } from './cli.js';
import { assertNoSecrets, CliProcess, freePort, killAll, tempDir } from './harness.js';

let i1: PgCluster;
let i2: PgCluster;
let dst: PgCluster;
/** The directory the original's files are in, and the commands run from. */
let dir: string;
let clusters: PgCluster[];

const DDL = `
CREATE TABLE t1 (id int PRIMARY KEY, v text);
CREATE TABLE t2 (id int PRIMARY KEY, v text);
CREATE TABLE t3 (id int PRIMARY KEY, v text);
CREATE TABLE t4 (id int PRIMARY KEY, v text);
INSERT INTO t1 SELECT g, 'v' || g FROM generate_series(1, 10) g;
`;

/** The original's sample map.yaml, with its placeholders (ports 6012, 6013) pointed at the test clusters. */
function sampleMap(): string {
  const url = (c: PgCluster, db: string) =>
    `postgres://${c.user}:${c.password}@127.0.0.1:${c.port}/${db}?replication=database&application_name=repl_${db}`;
  return `# Top level key for all databases with the same schema
- database: db1
  urls:
  - url: ${url(i1, 'db1')}
    sid: i1  # identifier in the destination database
  - url: ${url(i2, 'db1')}
    sid: i2
  # List all tables to be replicated
  tables:
    t1:
    t2:
      target: rt2 # Table name in destination database
    t3:
      type: append # Specify table type append
    t4:
      type: history # specify table type history
- database: db2
  urls:
  - url: ${url(i1, 'db2')}
    sid: 12
  - url: ${url(i2, 'db2')}
    sid: 13
  tables:
    s1:
`;
}

/** kuvasz-streamer.toml as the original documents it (its sample, with the map next to it). */
function sampleToml(address: string, format = 'text'): string {
  return `[server]
name = "kuvasz-streamer"
address = "${address}"
pprof = ""

[logs]
level="info"
format="${format}"
source=false

[database]
url = "${dst.urlFor('dest')}?application_name=kuvasz-streamer"

[app]
map_file = "map.yaml"
`;
}

beforeAll(async () => {
  [i1, i2, dst] = await Promise.all([
    startPostgres({ version: 17 }),
    startPostgres({ version: 14 }),
    startPostgres({ version: 17 }),
  ]);
  clusters = [i1, i2, dst];
  for (const c of [i1, i2]) {
    await c.createDatabase('db1');
    await c.sql(DDL, [], 'db1');
    await c.createDatabase('db2');
    await c.sql('CREATE TABLE s1 (id int PRIMARY KEY, v text)', [], 'db2');
  }
  await dst.createDatabase('dest');
  dir = tempDir('kvsz-original-');
  fs.writeFileSync(path.join(dir, 'map.yaml'), sampleMap());
  fs.writeFileSync(path.join(dir, 'kuvasz-streamer.toml'), sampleToml(':8000'));
});

afterAll(async () => {
  await killAll();
  await Promise.all((clusters ?? []).map((c) => c.stop()));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("the original's map.yaml and kuvasz-streamer.toml, unchanged", () => {
  test('plan and validate find ./kuvasz-streamer.toml by themselves (no -c); replication= is stripped at info level', () => {
    const plan = runCli(['plan', '--apply'], { cwd: dir });
    expect(plan.status, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/CREATE TABLE "public"."rt2"/);

    const v = runCli(['validate'], { cwd: dir, env: { KUVASZ_LOGS_FORMAT: 'json' } });
    expect(v.status, `${v.stdout}\n${v.stderr}`).toBe(0);
    expect(v.stderr + v.stdout).not.toMatch(/extended query protocol/);
    const logs = v.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string });
    const stripped = logs.filter((l) => /URL parameter replication=database ignored/.test(l.msg));
    expect(stripped.map((l) => l.msg.split(':')[0])).toEqual([
      'source db1 (sid i1)',
      'source db1 (sid i2)',
      'source db2 (sid 12)',
      'source db2 (sid 13)',
    ]);
    expect(stripped.every((l) => l.level === 30)).toBe(true);
    expect(
      logs.filter((l) => l.msg.startsWith('settings with no meaning')).map((l) => l.msg),
    ).toEqual([
      'settings with no meaning in this streamer, ignored: server.name (./kuvasz-streamer.toml line 2), server.pprof (./kuvasz-streamer.toml line 4), logs.source (./kuvasz-streamer.toml line 9)',
    ]);
    assertNoSecrets(v.stdout + v.stderr, clusters);
  });

  test('run streams a change; the environment and a flag override the file', async () => {
    const port = await freePort();
    // The file says text logs on ":8000"; the environment says json, a flag says 127.0.0.1:<port>.
    const cli = new CliProcess(
      ['run', '--server.address', `127.0.0.1:${port}`],
      { KUVASZ_logs_format: 'json', KUVASZ_APP_NUM_WORKERS: '2' },
      { cwd: dir },
    );
    try {
      await cli.waitForLogCount('streaming', 4);
      await i1.sql(
        "INSERT INTO t1 VALUES (100, 'live'); INSERT INTO t2 VALUES (1, 'x')",
        [],
        'db1',
      );
      await i2.sql("UPDATE t1 SET v = 'changed' WHERE id = 1", [], 'db1');
      await waitFor(
        async () => {
          const rows = await dst.sql<{ sid: string; id: number; v: string }>(
            `SELECT sid, id, v FROM t1 WHERE (sid = 'i1' AND id = 100) OR (sid = 'i2' AND id = 1)
             UNION ALL SELECT sid, id, v FROM rt2 ORDER BY 1, 2`,
            [],
            'dest',
          );
          return (
            JSON.stringify(rows) ===
            JSON.stringify([
              { sid: 'i1', id: 1, v: 'x' },
              { sid: 'i1', id: 100, v: 'live' },
              { sid: 'i2', id: 1, v: 'changed' },
            ])
          );
        },
        { timeoutMs: 30_000, message: 'the changes of i1 and i2 in the destination' },
      );
      const copied = await dst.sql<{ n: number }>('SELECT count(*)::int AS n FROM t1', [], 'dest');
      expect(copied).toEqual([{ n: 21 }]);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      expect(cli.countLogs(/URL parameter replication=database ignored/)).toBe(4);
    } finally {
      expect((await cli.stop()).code).toBe(0);
    }
    assertNoSecrets(cli.output, clusters);
  });

  test('a bad value in the file, the environment and a flag: each named by its origin, exit 2', () => {
    fs.writeFileSync(path.join(dir, 'bad.toml'), `${sampleToml(':8000')}num_workers = 0\n`);
    const r = runCli(['validate', '--conf', 'bad.toml', '--app.commit_delay=soon'], {
      cwd: dir,
      env: { KUVASZ_app_sync_burst: 'lots' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      'bad.toml line 16: app.num_workers: expected a positive integer, got 0',
    );
    expect(r.stderr).toContain(
      'environment KUVASZ_app_sync_burst: expected a positive integer, got "lots"',
    );
    expect(r.stderr).toContain(
      'flag --app.commit_delay: expected a number of seconds (0 or more), got "soon"',
    );
    const unknown = runCli(['validate', '--app.workers=2'], { cwd: dir });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/--app\.workers: unknown parameter 'workers' of section app/);
  });

  test('teardown --conf leaves nothing behind', async () => {
    const t = runCli(['teardown', '--conf', 'kuvasz-streamer.toml', '--yes'], { cwd: dir });
    expect(t.status, t.stderr).toBe(0);
    await assertNoLeftovers(clusters);
    for (const c of [i1, i2]) {
      const conns = await c.sql(
        "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'repl_%'",
      );
      expect(conns).toEqual([]);
    }
  });
});
