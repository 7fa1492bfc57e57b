import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

let ticksPerSecond: number | undefined;

function hz(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    } catch {
      ticksPerSecond = 100;
    }
    if (!Number.isFinite(ticksPerSecond) || ticksPerSecond <= 0) ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

/** utime, stime, cutime, cstime and ppid of a process (fields 4, 14-17 of /proc/<pid>/stat), or undefined once it is gone. */
function stat(pid: number): { ppid: number; self: number; children: number } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const n = (i: number) => Number(f[i - 3]);
  return { ppid: n(4), self: n(14) + n(15), children: n(16) + n(17) };
}

/** CPU seconds one process has used so far. */
export function processCpuSeconds(pid: number): number {
  const s = stat(pid);
  return s ? s.self / hz() : Number.NaN;
}

/**
 * CPU seconds a PostgreSQL server has used so far: the postmaster, its live
 * children (backends, walsenders, workers) and the children it has already
 * reaped (cutime / cstime), so that the difference of two readings counts a
 * backend that ended in between.
 */
export function serverCpuSeconds(dataDir: string | undefined): number {
  if (!dataDir) return Number.NaN;
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return Number.NaN;
  }
  const pm = stat(pid);
  if (!pm) return Number.NaN;
  let ticks = pm.self + pm.children;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s?.ppid === pid) ticks += s.self;
  }
  return ticks / hz();
}

/** CPU used between `start()` and `stop()`, in cores (CPU seconds per second). */
export class CpuMeter {
  private t0 = 0;
  private c0 = 0;
  constructor(private readonly read: () => number) {}
  start(): void {
    this.t0 = performance.now();
    this.c0 = this.read();
  }
  stop(): number {
    const seconds = (performance.now() - this.t0) / 1000;
    return (this.read() - this.c0) / seconds;
  }
}
