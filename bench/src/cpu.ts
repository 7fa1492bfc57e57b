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

/** The postmaster's pid of the server in `dataDir` (its postmaster.pid), or undefined. */
function postmasterPid(dataDir: string | undefined): number | undefined {
  if (!dataDir) return undefined;
  try {
    return Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
}

/** The live children of `parent` and the CPU ticks each has used. */
function* childrenOf(parent: number): Generator<{ pid: number; self: number }> {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s?.ppid === parent) yield { pid: Number(entry), self: s.self };
  }
}

/** A process's title (PostgreSQL backends show their kind there: `postgres: walsender ...`). */
function processTitle(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** Whether a PostgreSQL process title is a WAL sender's. */
export const isWalSender = (title: string): boolean => title.includes('walsender');

/** CPU seconds one process has used so far. */
export function processCpuSeconds(pid: number): number {
  const s = stat(pid);
  return s ? s.self / hz() : Number.NaN;
}

/**
 * CPU seconds a PostgreSQL server has used so far: the postmaster, its live
 * children (backends, walsenders, workers) and the children it has already
 * reaped (cutime / cstime), so that the difference of two readings counts a
 * backend that ended in between. With `only`: the live children whose title
 * it accepts (the reaped ones cannot be told apart).
 */
export function serverCpuSeconds(
  dataDir: string | undefined,
  only?: (title: string) => boolean,
): number {
  const pid = postmasterPid(dataDir);
  const pm = pid === undefined ? undefined : stat(pid);
  if (pid === undefined || !pm) return Number.NaN;
  let ticks = only ? 0 : pm.self + pm.children;
  for (const child of childrenOf(pid)) {
    if (only && !only(processTitle(child.pid))) continue;
    ticks += child.self;
  }
  return ticks / hz();
}

/**
 * A PostgreSQL server's CPU seconds per kind of process (its title with the
 * client address, activity and tenant number left out), for a diagnostic
 * breakdown: the difference of two readings shows who used the CPU.
 */
export function serverCpuSecondsByKind(dataDir: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  const pid = postmasterPid(dataDir);
  if (pid === undefined) return out;
  for (const child of childrenOf(pid)) {
    const words = processTitle(child.pid).replace(/\0/g, ' ').trim().split(/\s+/).slice(1);
    // Backends: user, database, address, activity; keep the first two.
    const kind = words.slice(0, 2).join(' ').replace(/\d+/g, '*');
    out.set(kind, (out.get(kind) ?? 0) + child.self / hz());
  }
  return out;
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
