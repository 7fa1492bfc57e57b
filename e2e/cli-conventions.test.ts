import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { afterAll, expect, test } from 'vitest';
import { CLI, type CliResult, runCli } from './cli.js';
import { tempDir, writeConfig } from './harness.js';

// No database: these are the CLI's own conventions (help, exit codes, pipes, Node version).
const dir = tempDir('kvsz-cli-');
/** A configuration file of database db1 whose sources are `urls` (YAML list items). */
const db1 = (name: string, urls: string, rest = '') =>
  writeConfig(
    dir,
    name,
    `destination:\n  url: postgres://u@localhost/dw\ndatabases:\n  - database: db1\n    urls:\n${urls}${rest}`,
  );
afterAll(() => {
  spawnSync('rm', ['-rf', dir]);
});

/** Runs the CLI, asserts its exit code, returns its output. */
function exits(args: string[], code: number): CliResult {
  const res = runCli(args);
  expect(res.status, res.stderr).toBe(code);
  return res;
}

test('no arguments prints the help on stdout and exits 0', () => {
  const res = runCli([], { cwd: os.tmpdir() });
  expect(res.status).toBe(0);
  expect(res.stdout).toMatch(/Usage: kuvasz-streamer <command>/);
  expect(res.stderr).toBe('');
});

test('help <command> and version work as commands', () => {
  const help = runCli(['help', 'run']);
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(/^Usage: kuvasz-streamer run -c <file>/);
  expect(help.stdout).toBe(runCli(['run', '--help']).stdout);
  const version = runCli(['version']);
  expect(version.status).toBe(0);
  expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\S*\n$/);
  expect(version.stdout).toBe(runCli(['--version']).stdout);
  const unknown = runCli(['help', 'frobnicate']);
  expect(unknown.status).toBe(2);
  expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
});

test('the help documents every exit code', () => {
  const { stdout } = runCli(['--help']);
  const section = stdout.slice(stdout.indexOf('Exit codes:'));
  for (const code of [0, 1, 2, 3]) expect(section).toMatch(new RegExp(`^  ${code}  \\S`, 'm'));
});

test('a reader that closes the pipe early ends the command quietly', () => {
  // `true` exits without reading: every write of the CLI meets a closed pipe.
  const res = spawnSync(
    'bash',
    ['-c', `set -o pipefail; "${process.execPath}" "${CLI}" schema | true`],
    { encoding: 'utf8' },
  );
  expect(res.stderr).toBe('');
  expect(res.status).toBe(0);
});

test('Node.js older than 20.19 gets one line and exit 2', () => {
  const res = spawnSync(
    process.execPath,
    [
      '--import',
      'data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:"18.19.1"}})',
      CLI,
      'run',
      '-c',
      'x.yaml',
    ],
    { encoding: 'utf8' },
  );
  expect(res.status).toBe(2);
  expect(res.stderr).toBe(
    'kuvasz-streamer: Node.js 18.19.1 is not supported; it needs Node.js 20.19 or later (https://nodejs.org/en/download)\n',
  );
});

test('every configuration problem is reported in one pass, duplicate sids included', () => {
  const file = db1(
    'many.yaml',
    '      - { url: postgres://u@h1/db1, sid: 1 }\n      - { url: postgres://u@h2/db1, sid: 1 }\n',
    '    tables:\n      t1: { type: bogus }\napply:\n  workers: 0\n',
  );
  const { stderr } = exits(['validate', '-c', file], 2);
  expect(stderr).toMatch(/databases\[0\]\.urls\[1\]\.sid \(line 7\): duplicate sid "1"/);
  expect(stderr).toMatch(/databases\[0\]\.tables\.t1\.type \(line 9\): expected one of/);
  expect(stderr).toMatch(/apply\.workers \(line 11\)/);
});

test('--map without --destination says what to add, nothing else', () => {
  const file = writeConfig(
    dir,
    'map.yaml',
    '- database: db1\n  urls: [{ url: postgres://u@h/db1, sid: 1 }]\n  tables:\n    t1:\n',
  );
  expect(exits(['run', '--map', file], 2).stderr).toBe(
    `kuvasz-streamer: invalid configuration ${file}:\n  - a map file (a bare list of databases) needs the destination: add --destination <url>\n`,
  );
});

test('teardown without --yes only lists what it would drop, and exits 0', () => {
  const file = db1(
    'teardown.yaml',
    '      - { url: postgres://u:secret@h1/db1, sid: 1 }\n',
    '    tables:\n      t1:\n',
  );
  expect(exits(['teardown', '-c', file], 0).stdout).toBe(
    'would drop (run again with --yes to do it):\n  postgres://u:***@h1/db1: replication slot kuvasz_db1_1, publication kuvasz_db1_1\n',
  );
});
