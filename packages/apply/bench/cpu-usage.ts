/**
 * CPU seconds used by a local cluster (its postmaster, every live child, and
 * the children it already reaped) and by this process, from /proc: where the
 * time of a bench phase went. Linux only; zero elsewhere. Bench only.
 */
import fs from 'node:fs';
import type { PgCluster } from '@kuvasz/testkit';

const TICK = 100; // USER_HZ on Linux

function stat(pid: number): number[] | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may contain spaces) start after the last ')'.
    return s
      .slice(s.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
  } catch {
    return undefined;
  }
}

/** ppid is field 4 of /proc/pid/stat, i.e. index 1 after the command. */
const PPID = 1;
const UTIME = 11;
const STIME = 12;
const CUTIME = 13;
const CSTIME = 14;

export async function postmasterPid(cluster: PgCluster): Promise<number | undefined> {
  const client = await cluster.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // Read while the backend is alive: it exits with the connection.
    return rows[0] ? stat(rows[0].pid)?.[PPID] : undefined;
  } finally {
    await client.end();
  }
}

/** CPU seconds of the cluster rooted at `postmaster` so far. */
export function clusterCpu(postmaster: number | undefined): number {
  if (postmaster === undefined) return 0;
  const root = stat(postmaster);
  if (!root) return 0;
  let ticks = root[UTIME]! + root[STIME]! + root[CUTIME]! + root[CSTIME]!;
  let pids: string[] = [];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return 0;
  }
  for (const p of pids) {
    const s = stat(Number(p));
    if (s && s[PPID] === postmaster) ticks += s[UTIME]! + s[STIME]!;
  }
  return ticks / TICK;
}

export function selfCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export interface CpuSnapshot {
  node: number;
  source: number;
  dest: number;
}

export function cpuSnapshot(source: number | undefined, dest: number | undefined): CpuSnapshot {
  return { node: selfCpu(), source: clusterCpu(source), dest: clusterCpu(dest) };
}

export function cpuDelta(a: CpuSnapshot, b: CpuSnapshot): CpuSnapshot {
  return { node: b.node - a.node, source: b.source - a.source, dest: b.dest - a.dest };
}

/** Transactions committed in database `db` so far (pg_stat_database). */
export async function commitCount(cluster: PgCluster, db: string): Promise<number> {
  const rows = await cluster.sql<{ n: string }>(
    'SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()',
    [],
    db,
  );
  return Number(rows[0]?.n);
}
