import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '@kuvasz/testkit';
import { expect, test } from 'vitest';
import { CliProcess } from './harness.js';

function clusterDirsOf(pid: number): string[] {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  const root = path.join(os.tmpdir(), `kuvasz-testkit-${uid}`, 'clusters');
  try {
    return fs.readdirSync(root).filter((d) => d.startsWith(`${pid}-`));
  } catch {
    return [];
  }
}

function postmasterPids(pid: number): number[] {
  return clusterDirsOf(pid).flatMap((d) => {
    const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
    try {
      const first = fs
        .readFileSync(
          path.join(os.tmpdir(), `kuvasz-testkit-${uid}`, 'clusters', d, 'data', 'postmaster.pid'),
          'utf8',
        )
        .split('\n')[0];
      return first ? [Number(first)] : [];
    } catch {
      return [];
    }
  });
}

test('demo starts, shows changes arriving, and cleans everything up on SIGINT', async () => {
  const demo = new CliProcess(['demo']);
  const pid = demo.child.pid ?? 0;
  let pids: number[] = [];
  try {
    await waitFor(() => clusterDirsOf(pid).length === 3, {
      timeoutMs: 60_000,
      message: 'three demo clusters',
    });
    await waitFor(() => /live view/.test(demo.stdout), {
      timeoutMs: 90_000,
      message: `the live view; output:\n${demo.output}`,
    });
    pids = postmasterPids(pid);
    expect(pids).toHaveLength(3);
    // Two successive live lines with a growing number of applied changes.
    await waitFor(
      () => {
        const applied = [...demo.stdout.matchAll(/changes applied: (\d+)/g)].map((m) =>
          Number(m[1]),
        );
        return (
          applied.length >= 2 && (applied.at(-1) ?? 0) > (applied[0] ?? 0) && (applied[0] ?? 0) > 0
        );
      },
      { timeoutMs: 30_000, message: 'changes arriving in the live view' },
    );
    expect(demo.stdout).toMatch(/customers\[tenant1\]=\d+ customers\[tenant2\]=\d+/);
    expect(demo.stdout).toMatch(/CREATE TABLE "public"\."prices"/);
  } finally {
    const res = await demo.stop('SIGINT', 60_000);
    expect(res.code, demo.output.slice(-3000)).toBe(0);
  }
  expect(demo.stdout).toMatch(/history of the most changed price/);
  expect(demo.stdout).toMatch(/tenant1 +SKU-\d+ .* 9999-01-01T00:00:00\.000Z/);
  expect(demo.stdout).toMatch(/stopped the demo servers and removed their data directories/);
  expect(clusterDirsOf(pid)).toEqual([]);
  for (const p of pids) {
    await waitFor(
      () => {
        try {
          process.kill(p, 0);
          const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
          return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
        } catch {
          return true;
        }
      },
      { timeoutMs: 10_000, message: `postmaster ${p} to exit` },
    );
  }
});
