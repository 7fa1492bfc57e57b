import { execFileSync, spawn } from 'node:child_process';
import type { PgCluster } from '@kuvasz/testkit';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/** Progress on stderr, so stdout keeps only the results. */
export function say(text: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

/** Runs a bash command line (with pipefail); resolves with its stdout, rejects with its stderr. */
export function sh(cmd: string, options: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['-c', `set -o pipefail; ${cmd}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('close', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${cmd.split(' ')[0]} exited ${code}: ${err.slice(-2000)}`)),
    );
  });
}

export function hasTool(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Polls until `pred` is truthy; returns the elapsed milliseconds. */
export async function until(
  pred: () => Promise<boolean> | boolean,
  options: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await pred()) return performance.now() - t0;
    if (performance.now() - t0 > options.timeoutMs)
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}`);
    await sleep(options.intervalMs ?? 100);
  }
}

/**
 * `until` a query returns a row, polled on one connection: a connection per
 * poll would start a backend (authentication, fork) every interval on the
 * cores of the run being timed.
 */
export async function untilRow(
  c: PgCluster,
  db: string,
  sql: string,
  options: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<number> {
  const client = await c.connect(db);
  try {
    return await until(async () => (await client.query(sql)).rows.length > 0, options);
  } finally {
    await client.end();
  }
}

export async function one<T extends Record<string, unknown>>(
  c: PgCluster,
  db: string,
  sql: string,
  params: unknown[] = [],
): Promise<T> {
  const rows = await c.sql<T>(sql, params, db);
  const row = rows[0];
  if (!row) throw new Error(`no row from: ${sql}`);
  return row;
}

/** Sorted-array percentile (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** Bench clusters: same machine, one clock, UTC, room for gigabytes of WAL. */
export const BENCH_SETTINGS = {
  timezone: 'UTC',
  shared_buffers: '256MB',
  max_wal_size: '8GB',
  min_wal_size: '2GB',
  checkpoint_timeout: '30min',
  max_slot_wal_keep_size: -1,
} as const;
