import fs from 'node:fs';
import path from 'node:path';
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres, waitFor } from '@kuvasz/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { assertNoLeftovers } from './checks.js';
import { runCli } from './cli.js';
import { assertNoSecrets, killAll, startRun, tempDir, writeConfig } from './harness.js';

let replica: PgCluster;
let good: PgCluster;
let dst: PgCluster;
const dir = tempDir();

beforeAll(async () => {
  [replica, good, dst] = await Promise.all([
    startPostgres({ version: 17, settings: { wal_level: 'replica' } }),
    startPostgres({ version: 14 }),
    startPostgres({ version: 17 }),
  ]);
  for (const c of [replica, good])
    await c.sql('CREATE TABLE items (id int PRIMARY KEY, name text)');
  await good.sql("INSERT INTO items SELECT g, 'i' || g FROM generate_series(1, 10) g");
  // Two sources feed it, but it has no sid column.
  await dst.sql('CREATE TABLE items (id int PRIMARY KEY, name text)');
  await dst.sql(
    'CREATE TABLE items_sid (sid text NOT NULL, id int NOT NULL, name text, PRIMARY KEY (sid, id))',
  );
});

afterAll(async () => {
  await killAll();
  await Promise.all([replica, good, dst].map((c) => c?.stop()));
});

test('validate lists every problem at once: wal_level=replica on one source, a target without sid', () => {
  const file = writeConfig(
    dir,
    'v.yaml',
    `destination: { url: "${dst.url}" }
databases:
  - database: postgres
    urls:
      - { url: "${replica.url}", sid: r }
      - { url: "${good.url}", sid: g }
    tables: { items: }
`,
  );
  const res = runCli(['validate', '-c', file]);
  expect(res.status, res.stderr).toBe(1);
  expect(res.stdout).toMatch(
    /source postgres \(sid r\)[^\n]*\n\s+problem: [^\n]*wal_level[^\n]*replica[^\n]*logical/,
  );
  expect(res.stdout).toMatch(/source postgres \(sid g\)[^\n]*\n\s+ok/);
  expect(res.stdout).toMatch(
    /problem: target public\.items receives rows from several sources but has no sid column/,
  );
  expect(res.stdout).toMatch(/2 problem\(s\)/);
  assertNoSecrets(res.stdout + res.stderr, [replica, good, dst]);
});

test('validate names an unreachable host and a wrong password, without printing passwords', () => {
  const file = writeConfig(
    dir,
    'down.yaml',
    `destination: { url: "${dst.urlFor('postgres', { user: 'postgres', password: 'not-the-password-123' })}" }
databases:
  - database: postgres
    urls: [{ url: "postgres://repl:very-secret-pw@127.0.0.1:1/postgres", sid: 1 }]
    tables: { items: }
`,
  );
  const res = runCli(['validate', '-c', file]);
  expect(res.status).toBe(1);
  expect(res.stdout).toMatch(/127\.0\.0\.1:1[^\n]*\n\s+problem: [^\n]*(ECONNREFUSED|refused)/);
  expect(res.stdout).toMatch(/password authentication failed/);
  expect(res.stdout + res.stderr).not.toMatch(/very-secret-pw|not-the-password-123/);
});

describe('bad configurations: a message with the place in the file, exit code 2, no password', () => {
  const good = `destination: { url: "postgres://dw:dest-secret-pw@h/w" }
databases:
  - database: d
    urls: [{ url: "postgres://r:src-secret-pw@h/d", sid: 1 }]
    tables: { t: }
`;
  const cases: [string, string | null, RegExp, NodeJS.ProcessEnv?][] = [
    ['malformed YAML', 'destination: { url: "x"\ndatabases: [', /YAML:/],
    [
      'unknown key',
      good.replace('tables:', 'tabels: { t: }\n    tables:'),
      /databases\[0\] \(line 3\): unknown key "tabels"/,
    ],
    [
      'wrong type',
      `${good}apply: { workers: "four" }\n`,
      /apply\.workers \(line 6\): expected number, received string/,
    ],
    [
      'bad table type',
      good.replace('{ t: }', '{ t: { type: mirror } }'),
      /tables\.t\.type \(line 5\): expected one of "clone", "append", "history"/,
    ],
    [
      'duplicate sid',
      good.replace('sid: 1 }]', 'sid: 1 }, { url: "postgres://r:src-secret-pw@h2/d", sid: "1" }]'),
      /urls\[1\]\.sid \(line 4\): duplicate sid "1"/,
    ],
    [
      'missing env var',
      good.replace('dest-secret-pw', '${KVSZ_E2E_UNSET}'),
      /destination\.url \(line 1\): environment variable KVSZ_E2E_UNSET is not set/,
    ],
    ['unreadable file', null, /cannot read the file \(no such file\)/],
    [
      'no databases',
      'destination: { url: "postgres://dw:dest-secret-pw@h/w" }\ndatabases: []\n',
      /databases \(line 2\): at least one database is needed/,
    ],
  ];
  test.each(cases)('%s', (name, text, expected, env) => {
    const file =
      text === null
        ? path.join(dir, 'missing.yaml')
        : writeConfig(dir, `${name.replaceAll(' ', '-')}.yaml`, text);
    const res = runCli(['run', '-c', file], { env: env ?? {} });
    expect(res.status, res.stdout + res.stderr).toBe(2);
    expect(res.stderr).toMatch(expected);
    expect(res.stderr).toMatch(/^kuvasz-streamer: invalid configuration /);
    expect(res.stderr).not.toMatch(/\n\s+at |dest-secret-pw|src-secret-pw/);
  });

  test('a kuvasz-streamer map.yaml is read as written, and needs --destination', () => {
    const map = writeConfig(
      dir,
      'map.yaml',
      '- database: d\n  urls: [{ url: "postgres://r:src-secret-pw@h/d", sid: 1 }]\n  tables: { t: { type: mirror } }\n',
    );
    const res = runCli(['validate', '--map', map]);
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/\[0\]\.tables\.t\.type \(line 3\): expected one of/);
    expect(res.stderr).toMatch(/needs the destination: add --destination <url>/);
    expect(fs.existsSync(map)).toBe(true);
  });

  test('usage errors exit 2 too', () => {
    expect(runCli(['run']).stderr).toMatch(/run needs a configuration: -c <file>/);
    expect(runCli(['run']).status).toBe(2);
    expect(runCli(['run', '-c', 'x', '--colour']).status).toBe(2);
  });

  test('schema prints a JSON Schema', () => {
    const res = runCli(['schema']);
    expect(res.status).toBe(0);
    const schema = JSON.parse(res.stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['destination', 'databases', 'apply', 'sync', 'http', 'log']),
    );
  });
});

test('validate names a missing source table and a missing target table', () => {
  const file = writeConfig(
    dir,
    'missing.yaml',
    `destination: { url: "${dst.url}" }
databases:
  - database: postgres
    urls: [{ url: "${good.url}", sid: g }]
    tables:
      items: { target: items_sid }
      nope: { target: items_sid_too }
      items_archive: { target: archive }
`,
  );
  const res = runCli(['validate', '-c', file]);
  expect(res.status).toBe(1);
  expect(res.stdout).toMatch(
    /problem: configured table public\.nope does not exist; create it or remove it from the configuration/,
  );
  expect(res.stdout).toMatch(
    /problem: target table public\.archive does not exist; create it \(the `plan` command prints its DDL\)/,
  );
  assertNoSecrets(res.stdout + res.stderr, [replica, good, dst]);
});

describe('run refuses bad targets before it starts: exit 2, the problem, the plan hint', () => {
  test.each([
    [
      'a target without sid fed by two sources',
      `      - { url: "URL_R", sid: r }\n      - { url: "URL_G", sid: g }\n    tables: { items: }`,
      /target public\.items receives rows from several sources \(sid r, g\) but has no sid column/,
    ],
    [
      'a missing target table',
      `      - { url: "URL_G", sid: g }\n    tables: { items: { target: not_there } }`,
      /target table public\.not_there does not exist; create it/,
    ],
  ])('%s', async (name, urls, expected) => {
    const file = writeConfig(
      dir,
      `${name.replaceAll(' ', '-')}.yaml`,
      `destination: { url: "${dst.url}" }\ndatabases:\n  - database: postgres\n    urls:\n${urls
        .replace('URL_R', replica.url)
        .replace('URL_G', good.url)}\n`,
    );
    const cli = startRun(file);
    const res = await cli.exited;
    expect(res.code, cli.output).toBe(2);
    expect(cli.stderr).toMatch(expected);
    expect(cli.stderr).toMatch(
      /run kuvasz-streamer plan -c .* to see the DDL the destination needs/,
    );
    assertNoSecrets(cli.output, [replica, good, dst]);
  });
});

test('run with broken sources (wal_level=replica, wrong password, unreachable, missing table): each reports why and retries, the good one streams, no password anywhere', async () => {
  const wrong = 'wrong-source-pw-4711';
  const okFile = writeConfig(
    dir,
    'broken-sources.yaml',
    `destination: { url: "${dst.url}" }
databases:
  - database: postgres
    urls:
      - { url: "${good.url}", sid: g }
      - { url: "${replica.url}", sid: r }
      - { url: "${good.urlFor('postgres', { user: 'postgres', password: wrong })}", sid: w }
      - { url: "postgres://repl:unreachable-pw-0815@127.0.0.1:1/postgres", sid: u }
    tables:
      items: { target: items_sid }
  - database: other
    urls: [{ url: "${good.url}", sid: m }]
    tables:
      not_there: { target: items_sid }
`,
  );
  const cli = startRun(okFile);
  try {
    await cli.waitForLog('streaming');
    const failed = (sid: string) =>
      cli.logs().find((l) => l.sid === sid && /^source failed/.test(String(l.msg)));
    await waitFor(() => ['r', 'w', 'u', 'm'].every((sid) => failed(sid)), {
      timeoutMs: 30_000,
      message: `each broken source to report; stderr:\n${cli.stderr.slice(-3000)}`,
    });
    const why = (sid: string) => String((failed(sid)?.err as { message?: string })?.message);
    expect(why('r')).toMatch(/wal_level is 'replica'; set wal_level = logical/);
    expect(why('w')).toMatch(/password authentication failed for user "postgres"/);
    expect(why('u')).toMatch(/127\.0\.0\.1:1.*(ECONNREFUSED|refused)/s);
    expect(why('m')).toMatch(
      /configured table public\.not_there does not exist; create it or remove it from the configuration/,
    );
    expect(
      cli
        .logs()
        .filter((l) => l.msg === 'streaming')
        .map((l) => l.sid),
    ).toEqual(['g']);
    await waitFor(
      async () => (await dst.sql("SELECT 1 FROM items_sid WHERE sid = 'g'")).length === 10,
      {
        timeoutMs: 30_000,
      },
    );

    const status = runCli(['status', '-c', okFile, '--json']);
    expect(status.status, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as {
      sources: { sid: string; state: string; lastError: { message: string } | null }[];
    };
    const bySid = new Map(report.sources.map((s) => [s.sid, s]));
    expect(bySid.get('g')?.state).toBe('streaming');
    for (const sid of ['r', 'w', 'u', 'm']) {
      // Between retries it is 'retrying', during one 'preflight': never streaming.
      expect(bySid.get(sid)?.state).toMatch(/^(retrying|preflight)$/);
      // The status holds the latest failure as logged (the log's err.message adds the cause's).
      const last = bySid.get(sid)?.lastError?.message ?? '-';
      const logged = cli
        .logs()
        .filter((l) => l.sid === sid && /^source failed/.test(String(l.msg)))
        .map((l) => String((l.err as { message?: string })?.message));
      expect(
        logged.some((m) => m.startsWith(last)),
        `${sid}: ${last}\nnot among\n${logged.join('\n')}`,
      ).toBe(true);
    }
    for (const out of [cli.output, status.stdout + status.stderr]) {
      assertNoSecrets(out, [replica, good, dst]);
      expect(out).not.toMatch(new RegExp(`${wrong}|unreachable-pw-0815`));
    }
  } finally {
    const res = await cli.stop('SIGTERM');
    expect(res.code, cli.stderr.slice(-2000)).toBe(0);
  }
  expect(cli.output).not.toMatch(new RegExp(`${wrong}|unreachable-pw-0815`));
  // A source that failed preflight must not be left with a publication or slot half made.
  expect(await replica.sql('SELECT slot_name FROM pg_replication_slots')).toEqual([]);
  const down = runCli(['teardown', '-c', okFile, '--yes']);
  expect(down.stdout).toMatch(/slot kuvasz_postgres_g dropped/);
  expect(down.stdout + down.stderr).not.toMatch(new RegExp(`${wrong}|unreachable-pw-0815`));
  expect(down.status).toBe(1); // w and u cannot be reached to tear them down
  await assertNoLeftovers([replica, good, dst]);
});

test('run with an unreachable or refusing destination keeps retrying and says why; other commands exit 3', async () => {
  const secret = 'dest-wrong-pw-2718';
  for (const url of [
    dst.urlFor('postgres', { user: 'postgres', password: secret }),
    `postgres://dw:${secret}@127.0.0.1:1/warehouse`,
  ]) {
    const file = writeConfig(
      dir,
      'bad-dest.yaml',
      `destination: { url: "${url}" }
databases:
  - database: postgres
    urls: [{ url: "${good.url}", sid: g }]
    tables: { items: { target: items_sid } }
`,
    );
    const cli = startRun(file);
    try {
      await cli.waitForLogCount('cannot start the apply engine (destination); retrying', 2, 30_000);
      const err = cli.logs().find((l) => l.err)?.err as { message?: string } | undefined;
      expect(err?.message).toMatch(/password authentication failed|ECONNREFUSED/);
    } finally {
      const res = await cli.stop('SIGTERM');
      expect(res.code).toBe(0);
    }
    for (const cmd of ['plan', 'status']) {
      const res = runCli([cmd, '-c', file]);
      expect(res.status, `${cmd}: ${res.stderr}`).toBe(3);
      expect(res.stderr).toMatch(
        /^kuvasz-streamer: cannot (connect to|read the status from) the destination postgres:\/\/\w+:\*\*\*@127\.0\.0\.1:\d+\/\w+: (password authentication failed|connect ECONNREFUSED)/,
      );
      expect(res.stdout + res.stderr).not.toMatch(secret);
    }
    expect(cli.output).not.toMatch(secret);
  }
  await assertNoLeftovers([replica, good, dst]);
});
