import fs from 'node:fs';
import path from 'node:path';
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres } from '@kuvasz/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from './cli.js';
import { assertNoSecrets, tempDir, writeConfig } from './harness.js';

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
  // Two sources feed it, but it has no sid column.
  await dst.sql('CREATE TABLE items (id int PRIMARY KEY, name text)');
});

afterAll(async () => {
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
      /databases \(line 2\): Too small/,
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
