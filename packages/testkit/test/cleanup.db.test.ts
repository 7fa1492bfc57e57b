import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { waitFor } from '../src/index.js';
import { isProcessAlive } from '../src/registry.js';

const pkgDir = path.resolve(import.meta.dirname, '..');
const vitestBin = path.join(pkgDir, 'node_modules', '.bin', 'vitest');

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

interface Report {
  dataDir: string;
  port: number;
  postmasterPid: number;
  backendPid: number;
}

describe.each(['fail', 'kill'])('a test process that ends with "%s"', (mode) => {
  test('leaves no cluster process, port or data directory behind', async () => {
    const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kit-report-')), 'report.json');
    const child = spawnSync(
      vitestBin,
      ['run', '--config', 'test/fixtures/vitest.fixture.config.ts'],
      {
        cwd: pkgDir,
        env: { ...process.env, KIT_REPORT: report, KIT_MODE: mode, CI: '1' },
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    const out = `${child.stdout}\n${child.stderr}`;
    expect(child.status, out).not.toBe(0);
    if (mode === 'fail') expect(out).toMatch(/expected 'this test' to be 'failing'/);

    const r = JSON.parse(fs.readFileSync(report, 'utf8')) as Report;
    expect(r.postmasterPid).toBeGreaterThan(0);
    // The child vitest run has exited, so its teardown (or the global reaper) is done.
    await waitFor(() => !isProcessAlive(r.postmasterPid), {
      timeoutMs: 10_000,
      message: 'the postmaster to exit',
    });
    expect(isProcessAlive(r.backendPid)).toBe(false);
    expect(fs.existsSync(path.dirname(r.dataDir))).toBe(false);
    expect(await portOpen(r.port)).toBe(false);
    fs.rmSync(path.dirname(report), { recursive: true, force: true });
  });
});
