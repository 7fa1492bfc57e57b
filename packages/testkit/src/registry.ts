import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Where the kit keeps staged binaries and cluster directories. One tree per
 * OS user, so a root run and a normal-user run never fight over permissions.
 */
export function kitRoot(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return path.join(os.tmpdir(), `kuvasz-testkit-${uid}`);
}

export function clustersRoot(): string {
  return path.join(kitRoot(), 'clusters');
}

/** Each cluster directory records the pid of the process that owns it. */
export const OWNER_FILE = 'owner.pid';

interface LiveCluster {
  dir: string;
  pid: () => number | undefined;
}

const live = new Set<LiveCluster>();
let hooksInstalled = false;

function killAndRemoveSync(c: LiveCluster): void {
  const pid = c.pid();
  if (pid !== undefined) {
    try {
      // SIGQUIT: immediate shutdown; the postmaster takes its backends with it.
      process.kill(pid, 'SIGQUIT');
    } catch {
      // already gone
    }
  }
  try {
    fs.rmSync(c.dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // the global teardown reaps what is left
  }
}

function cleanupAllSync(): void {
  for (const c of live) killAndRemoveSync(c);
  live.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', cleanupAllSync);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    // Only when nobody else handles the signal: an app that owns its shutdown
    // (the demo) stops its clusters itself.
    if (process.listenerCount(sig) > 0) continue;
    process.once(sig, () => {
      cleanupAllSync();
      process.kill(process.pid, sig);
    });
  }
}

/** Tracks a running cluster so that an exiting process does not leave it behind. */
export function trackCluster(dir: string, pid: () => number | undefined): () => void {
  installHooks();
  const entry: LiveCluster = { dir, pid };
  live.add(entry);
  return () => live.delete(entry);
}

/** True for a running process; a zombie (exited, not yet reaped) counts as gone. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // no /proc (macOS): the signal probe above is all we have
    return true;
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').split('\n')[0]?.trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stops and removes every cluster whose owning process is gone: clusters a
 * crashed or killed test process left running. Returns the directories reaped.
 */
export function reapOrphanClusters(root = clustersRoot()): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(root);
  } catch {
    return [];
  }
  const reaped: string[] = [];
  for (const name of entries) {
    const dir = path.join(root, name);
    const owner = readPid(path.join(dir, OWNER_FILE));
    if (owner !== undefined && isProcessAlive(owner)) continue;
    const postmaster = readPid(path.join(dir, 'data', 'postmaster.pid'));
    if (postmaster !== undefined && isProcessAlive(postmaster)) {
      try {
        process.kill(postmaster, 'SIGKILL');
      } catch {
        // raced with its own exit
      }
    }
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    reaped.push(dir);
  }
  return reaped;
}
