import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { parseCli } from '../src/cli/args.js';
import { type Config, loadConfig, parseConfig, parseTomlConfig } from '../src/config/load.js';
import { configSource } from '../src/config/resolve.js';
import { ConfigError, StreamerError } from '../src/errors.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvsz-toml-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The original's documented sample map, as its packages install it. */
const MAP = `# Top level key for all databases with the same schema
- database: db1
  urls:
  - url: postgres://kuvasz:kuvasz@127.0.0.1:6012/db1?replication=database&application_name=repl_db1
    sid: i1  # identifier in the destination database
  - url: postgres://kuvasz:kuvasz@127.0.0.1:6013/db1?replication=database&application_name=repl_db1
    sid: i2
  tables:
    t1:
    t2:
      target: rt2
    t3:
      type: append
    t4:
      type: history
- database: db2
  urls:
  - url: postgres://kuvasz:kuvasz@127.0.0.1:6012/db2?replication=database&application_name=repl_db2
    sid: 12
  tables:
    s1:
`;
const mapFile = path.join(dir, 'map.yaml');
fs.writeFileSync(mapFile, MAP);

/** The original's sample kuvasz-streamer.toml, its map_file pointing at the sample map. */
const SAMPLE = `[server]
name = "kuvasz-streamer"
address = ":8000"
pprof = ""

[logs]
level="debug"
format="text"
source=false

[database]
url = "postgres://kuvasz:kuvasz@127.0.0.1/dest?application_name=kuvasz-streamer"

[app]
map_file = "${mapFile}"
`;

function toml(text: string, env: NodeJS.ProcessEnv = {}, argv: string[] = []): Config {
  return parseTomlConfig(text, 'kuvasz-streamer.toml', {
    env,
    flags: parseCli(['run', ...argv]).settings,
  });
}

function tomlIssues(text: string, env: NodeJS.ProcessEnv = {}, argv: string[] = []): string[] {
  try {
    toml(text, env, argv);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).exitCode).toBe(2);
    return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected a ConfigError');
}

describe("the original's sample files", () => {
  const c = toml(SAMPLE);

  test('the map: every database and sid, tables in the default schema, types and targets', () => {
    expect(c.sources.map((s) => `${s.database}/${s.sid}`)).toEqual(['db1/i1', 'db1/i2', 'db2/12']);
    expect(
      c.sources[0]?.tables.map(
        (t) => `${t.source.schema}.${t.source.table}>${t.target.table}:${t.type}`,
      ),
    ).toEqual([
      'public.t1>t1:clone',
      'public.t2>rt2:clone',
      'public.t3>t3:append',
      'public.t4>t4:history',
    ]);
  });

  test('replication=database is stripped from every URL, application_name kept, one notice each', () => {
    expect(c.sources.map((s) => s.url)).toEqual([
      'postgres://kuvasz:kuvasz@127.0.0.1:6012/db1?application_name=repl_db1',
      'postgres://kuvasz:kuvasz@127.0.0.1:6013/db1?application_name=repl_db1',
      'postgres://kuvasz:kuvasz@127.0.0.1:6012/db2?application_name=repl_db2',
    ]);
    const stripped = c.notices.filter((n) => n.includes('replication=database'));
    expect(stripped).toHaveLength(3);
    expect(stripped[0]).toMatch(
      /^source db1 \(sid i1\): URL parameter replication=database ignored/,
    );
    expect(c.notices.join('\n')).not.toContain('kuvasz:kuvasz');
  });

  test('server, logs and database become the listener, the log and the destination', () => {
    expect(c.http).toEqual({ host: '0.0.0.0', port: 8000 });
    expect(c.log).toEqual({ level: 'debug', format: 'pretty' });
    expect(c.destination).toEqual({
      url: 'postgres://kuvasz:kuvasz@127.0.0.1/dest?application_name=kuvasz-streamer',
      schema: 'public',
      metadataSchema: 'kuvasz',
    });
    expect(c.map).toEqual({ mode: 'file' });
    expect(c.cors).toBeUndefined();
    expect(c.auth).toEqual({ adminPasswordHash: undefined, jwtKey: undefined, ttlSeconds: 300 });
  });

  test('settings with no meaning here are named once, with their lines', () => {
    const ignored = c.notices.filter((n) => n.includes('ignored: '));
    expect(ignored).toEqual([
      'settings with no meaning in this streamer, ignored: server.name (kuvasz-streamer.toml line 2), server.pprof (kuvasz-streamer.toml line 4), logs.source (kuvasz-streamer.toml line 9)',
    ]);
  });
});

test('every section the original documents', () => {
  const c = toml(`
[server]
address = "127.0.0.1:9001"
max_goroutines = 100
read_timeout = 30
read_header_timeout = 5
write_timeout = 31
idle_timeout = 2.5
max_header_bytes = 1000
[maintenance]
pprof = "127.0.0.1:6060"
start_delay = 0
[database]
url = "postgres://dw@h/w"
schema = "dwh"
[cors]
allowed_origins = ["https://admin.example"]
allow_methods = "GET,POST"
max_age = 600
[auth]
admin_password = "$6$salt$hash"
jwt_key = "c2VjcmV0LWtleS1mb3ItdGVzdHM="
ttl = 900
[app]
map_file = "${mapFile}"
num_workers = 3
commit_delay = 0.05
default_schema = "sales"
sync_rate = 5000
sync_burst = 200
`);
  expect(c.http).toEqual({
    host: '127.0.0.1',
    port: 9001,
    timeouts: { readMs: 30_000, readHeaderMs: 5_000, writeMs: 31_000, idleMs: 2_500 },
  });
  expect(c.destination.schema).toBe('dwh');
  expect(c.cors).toEqual({
    allowedOrigins: ['https://admin.example'],
    allowMethods: ['GET', 'POST'],
    allowHeaders: [
      'Authorization',
      'User-Agent',
      'If-Modified-Since',
      'Cache-Control',
      'Content-Type',
      'X-Total-Count',
    ],
    allowCredentials: true,
    maxAgeSeconds: 600,
  });
  expect(c.auth).toEqual({
    adminPasswordHash: '$6$salt$hash',
    jwtKey: 'c2VjcmV0LWtleS1mb3ItdGVzdHM=',
    ttlSeconds: 900,
  });
  expect(c.secrets).toEqual(
    expect.arrayContaining(['$6$salt$hash', 'c2VjcmV0LWtleS1mb3ItdGVzdHM=']),
  );
  expect(c.apply.workers).toBe(3);
  expect(c.apply.flushIntervalMs).toBe(50);
  expect(c.sync.rate).toEqual({ rowsPerSecond: 5000, burst: 200 });
  expect(c.sources[0]?.tables[0]?.source).toEqual({ schema: 'sales', table: 't1' });
  expect(c.sources[0]?.tables[0]?.target).toEqual({ schema: 'dwh', table: 't1' });
  expect(c.notices.join('\n')).toMatch(
    /ignored: server\.max_goroutines \(kuvasz-streamer\.toml line 4\), server\.max_header_bytes \(kuvasz-streamer\.toml line 9\), maintenance\.pprof .*maintenance\.start_delay/,
  );
});

test('defaults for a TOML file: 127.0.0.1:8000, no rate limit at the original default, apply defaults', () => {
  const c = toml(
    `[database]\nurl = "postgres://dw@h/w"\n[app]\nmap_file = "${mapFile}"\nsync_rate = 1_000_000_000\n`,
  );
  expect(c.http).toEqual({ host: '127.0.0.1', port: 8000 });
  expect(c.sync.rate).toBeUndefined();
  expect(c.apply.workers).toBe(4);
  expect(c.apply.flushIntervalMs).toBe(0);
});

test('map_database: the map lives in the destination, map_file is not read', () => {
  const c = toml(
    `[database]\nurl = "postgres://dw@h/w"\n[app]\nmap_database = "/var/lib/kuvasz/map.db"\nmap_file = "/nonexistent/map.yaml"\n`,
  );
  expect(c.map).toEqual({ mode: 'database', sqliteImport: '/var/lib/kuvasz/map.db' });
  expect(c.sources).toEqual([]);
  expect(c.notices.join('\n')).toMatch(/app\.map_file \(\/nonexistent\/map\.yaml\) is ignored/);
});

describe('precedence: file < environment < flags', () => {
  const base = `[database]\nurl = "postgres://dw@h/w"\n[app]\nmap_file = "${mapFile}"\nnum_workers = 2\n`;

  test('the environment over the file, any case', () => {
    expect(toml(base, { KUVASZ_APP_NUM_WORKERS: '5' }).apply.workers).toBe(5);
    expect(toml(base, { KUVASZ_app_num_workers: '6' }).apply.workers).toBe(6);
    expect(toml(base, { KUVASZ_database_url: 'postgres://other@h/w' }).destination.url).toBe(
      'postgres://other@h/w',
    );
  });

  test('flags over the environment, both spellings of a flag', () => {
    const env = { KUVASZ_app_num_workers: '6' };
    expect(toml(base, env, ['--app.num_workers=7']).apply.workers).toBe(7);
    expect(toml(base, env, ['--app.num_workers', '8']).apply.workers).toBe(8);
    expect(toml(base, env, ['--logs.level=warn', '--logs.format=json']).log).toEqual({
      level: 'warn',
      format: 'json',
    });
  });

  test('a bad file value overridden by a good one is no error', () => {
    expect(
      toml(base.replace('num_workers = 2', 'num_workers = 0'), {}, ['--app.num_workers=3']).apply
        .workers,
    ).toBe(3);
  });

  test('other KUVASZ_ variables are not settings', () => {
    expect(toml(base, { KUVASZ_DEBUG: '1', KUVASZ_E2E_SEED: '4' }).apply.workers).toBe(2);
  });

  test('overrides apply to the YAML configuration too', () => {
    const yaml = `destination: { url: postgres://dw@h/w }\ndatabases: [{ database: d, urls: [{url: "postgres://u@h/d?replication=database", sid: 1}], tables: {t: } }]\n`;
    const c = parseConfig(yaml, 'c.yaml', {
      env: { KUVASZ_app_num_workers: '9' },
      flags: parseCli(['run', '--database.schema=dwh']).settings,
    });
    expect(c.apply.workers).toBe(9);
    expect(c.destination.schema).toBe('dwh');
    expect(c.sources[0]?.url).toBe('postgres://u@h/d');
    expect(c.notices).toEqual([
      expect.stringMatching(/^source d \(sid 1\): URL parameter replication=database ignored/),
    ]);
  });
});

describe('errors name their source', () => {
  const base = `[database]\nurl = "postgres://dw@h/w"\n\n[app]\nmap_file = "${mapFile}"\n`;

  test('a file value: the file and its line', () => {
    expect(tomlIssues(`${base}num_workers = "many"\n`)).toEqual([
      'kuvasz-streamer.toml line 6: app.num_workers: expected a positive integer, got "many"',
    ]);
  });

  test('an environment variable', () => {
    expect(tomlIssues(base, { KUVASZ_app_num_workers: 'zero' })).toEqual([
      'environment KUVASZ_app_num_workers: expected a positive integer, got "zero"',
    ]);
  });

  test('a flag', () => {
    expect(tomlIssues(base, {}, ['--app.commit_delay=soon'])).toEqual([
      'flag --app.commit_delay: expected a number of seconds (0 or more), got "soon"',
    ]);
  });

  test('every problem at once; a secret is never echoed', () => {
    const issues = tomlIssues(
      `${base}num_workers = 0\n[logs]\nlevel = "loud"\n`,
      {
        KUVASZ_database_url: '42x',
        KUVASZ_auth_ttl: '-1',
      },
      ['--server.address=nowhere'],
    );
    expect(issues).toEqual([
      'kuvasz-streamer.toml line 6: app.num_workers: expected a positive integer, got 0',
      'kuvasz-streamer.toml line 8: logs.level: expected one of debug, info, warn, error, got "loud"',
      'environment KUVASZ_auth_ttl: expected a positive integer, got "-1"',
      'flag --server.address: expected an address, e.g. ":8000" or "127.0.0.1:8000", got "nowhere"',
    ]);
    expect(tomlIssues(`[database]\nurl = 5\n[app]\nmap_file = "${mapFile}"\n`).join('\n')).toBe(
      'kuvasz-streamer.toml line 2: database.url: expected a string',
    );
  });

  test('a value the schema refuses is named by its setting', () => {
    expect(tomlIssues(base, {}, ['--app.num_workers=1000'])).toEqual([
      'flag --app.num_workers: Too big: expected number to be <=64',
    ]);
  });

  test('a TOML syntax error: line and column', () => {
    expect(tomlIssues('[app]\nnum_workers = \n')).toEqual([
      expect.stringMatching(/^kuvasz-streamer\.toml line 2, column \d+: TOML: invalid value/),
    ]);
  });

  test('the map file: missing (default map.yaml of the current directory), or with a bad entry', () => {
    expect(tomlIssues('[database]\nurl = "postgres://dw@h/w"\n')).toEqual([
      'kuvasz-streamer.toml: app.map_file (not set; the default is map.yaml): cannot read the map map.yaml (no such file)',
    ]);
    const bad = path.join(dir, 'bad-map.yaml');
    fs.writeFileSync(
      bad,
      '- database: d\n  urls: [{url: u, sid: 1}]\n  tables: {t: {tpye: clone}}\n',
    );
    expect(
      tomlIssues(`[database]\nurl = "postgres://dw@h/w"\n[app]\nmap_file = "${bad}"\n`),
    ).toEqual([`${bad}: [0].tables.t (line 3): unknown key "tpye"`]);
  });

  test('no destination anywhere', () => {
    expect(tomlIssues(`[app]\nmap_file = "${mapFile}"\n`)).toEqual([
      'kuvasz-streamer.toml: database.url: required, not set',
    ]);
  });

  test('unknown keys are accepted and named', () => {
    const c = toml(`${base}num_wrokers = 3\n[extra]\nx = 1\n`);
    expect(c.notices).toContain(
      "kuvasz-streamer.toml: unknown settings, ignored (neither this streamer's nor the original's; a typo?): app.num_wrokers (line 6), extra.x (line 8)",
    );
  });
});

describe('the command line', () => {
  test('--<section>.<param> flags are taken out; unknown ones are usage errors', () => {
    const args = parseCli([
      'run',
      '--conf',
      'k.toml',
      '--app.num_workers=3',
      '--log-format',
      'json',
    ]);
    expect(args.conf).toBe('k.toml');
    expect(args.settings).toEqual([{ name: 'app.num_workers', value: '3' }]);
    expect(args.logFormat).toBe('json');
    expect(() => parseCli(['run', '--log.level=debug'])).toThrow(/unknown section 'log'/);
    expect(() => parseCli(['run', '--app.workers=2'])).toThrow(
      /unknown parameter 'workers' of section app/,
    );
    expect(() => parseCli(['run', '--app.num_workers'])).toThrow(/needs a value/);
    expect(() => parseCli(['run', '-c', 'a.yaml', '--conf', 'b.toml'])).toThrow(StreamerError);
  });

  test('format by flag and extension; the search path in order', () => {
    expect(configSource({ conf: 'x.conf' }, 'run')).toEqual({ file: 'x.conf', format: 'toml' });
    expect(configSource({ config: 'x.TOML' }, 'run')).toEqual({ file: 'x.TOML', format: 'toml' });
    expect(configSource({ config: 'x.yaml' }, 'run')).toEqual({ file: 'x.yaml', format: 'yaml' });
    const cwd = fs.mkdtempSync(path.join(dir, 'cwd-'));
    expect(() => configSource({ cwd }, 'validate')).toThrow(
      /validate needs a configuration: .* none of \.\/kuvasz-streamer\.toml, \.\/conf\/kuvasz-streamer\.toml, \/etc\/kuvasz\/kuvasz-streamer\.toml exists/,
    );
    fs.mkdirSync(path.join(cwd, 'conf'));
    fs.writeFileSync(path.join(cwd, 'conf', 'kuvasz-streamer.toml'), '');
    expect(configSource({ cwd }, 'run').file).toBe(path.join(cwd, 'conf/kuvasz-streamer.toml'));
    fs.writeFileSync(path.join(cwd, 'kuvasz-streamer.toml'), '');
    expect(configSource({ cwd }, 'run').file).toBe(path.join(cwd, 'kuvasz-streamer.toml'));
  });

  test('loadConfig reads a .toml file as TOML', async () => {
    const file = path.join(dir, 'kuvasz-streamer.toml');
    fs.writeFileSync(file, SAMPLE);
    const c = await loadConfig(file, { env: {} });
    expect(c.sources).toHaveLength(3);
  });
});
