import os from 'node:os';
import { expect, test } from 'vitest';
import { runCli } from './cli.js';

test('the bundled CLI runs from any directory and prints its help', () => {
  const res = runCli(['--help'], { cwd: os.tmpdir() });
  expect(res.status).toBe(0);
  expect(res.stdout).toMatch(/^kuvasz-streamer \d+\.\d+\.\d+/);
  expect(res.stdout).toMatch(/Usage: kuvasz-streamer <command>/);
});

test('an unknown command exits 2 with a hint', () => {
  const res = runCli(['frobnicate']);
  expect(res.status).toBe(2);
  expect(res.stderr).toMatch(/unknown command 'frobnicate'; run kuvasz-streamer --help/);
});
