import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { PgCluster } from '@kuvasz/testkit';
import { waitFor } from '@kuvasz/testkit';
import { CLI } from './cli.js';

/** Every CLI process started by this test file and not yet exited. */
const live = new Set<CliProcess>();

/** A kuvasz-streamer process in the background, its output captured. */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (d: Buffer) => {
      this.stdout += d.toString();
    });
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    live.add(this);
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        live.delete(this);
        resolve({ code, signal });
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Peak resident set size so far (`VmHWM` of `/proc/<pid>/status`), in bytes; 0 once exited. */
  peakRss(): number {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m?.[1] ? Number(m[1]) * 1024 : 0;
    } catch {
      return 0;
    }
  }

  /** How many log lines with this message were written so far. */
  countLogs(msg: string | RegExp): number {
    return this.logs().filter((l) =>
      typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg)),
    ).length;
  }

  /** Waits until `n` log lines with this message were written (e.g. one `streaming` per source). */
  async waitForLogCount(msg: string | RegExp, n: number, timeoutMs = 60_000): Promise<void> {
    await waitFor(() => this.countLogs(msg) >= n, {
      timeoutMs,
      message: `${n} log line(s) ${String(msg)}; stderr so far:\n${this.stderr.slice(-3000)}`,
    });
  }

  get output(): string {
    return `${this.stdout}\n${this.stderr}`;
  }

  /** Parsed JSON log lines (stderr). */
  logs(): Record<string, unknown>[] {
    return this.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return {};
        }
      });
  }

  async waitForLog(msg: string | RegExp, timeoutMs = 60_000): Promise<void> {
    await waitFor(
      () =>
        this.logs().some((l) =>
          typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg)),
        ),
      {
        timeoutMs,
        message: `log line ${String(msg)}; stderr so far:\n${this.stderr.slice(-3000)}`,
      },
    );
  }

  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
    timeoutMs = 30_000,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const res = await this.exited;
    clearTimeout(timer);
    return res;
  }
}

/** `kuvasz-streamer run -c <config>` in the background, with JSON logs. */
export function startRun(config: string, extraArgs: string[] = []): CliProcess {
  return new CliProcess(['run', '-c', config, '--log-format', 'json', ...extraArgs]);
}

/**
 * SIGKILLs every CLI process of this file still running (for `afterAll`, so
 * a failed test leaves no process behind) and returns how many there were.
 */
export async function killAll(): Promise<number> {
  const left = [...live];
  for (const p of left) p.child.kill('SIGKILL');
  await Promise.all(left.map((p) => p.exited));
  return left.length;
}

/** CLI processes of this file that are still running. */
export function runningProcesses(): CliProcess[] {
  return [...live];
}

export function tempDir(prefix = 'kvsz-e2e-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function writeConfig(dir: string, name: string, yaml: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, yaml);
  return file;
}

/** Fails when any cluster password appears in the text. */
export function assertNoSecrets(text: string, clusters: PgCluster[]): void {
  for (const c of clusters) {
    if (text.includes(c.password))
      throw new Error(`the password of the cluster on port ${c.port} appears in the output`);
  }
}

/** Rows of a query as sorted JSON lines, for whole-table comparisons. */
export async function tableRows(c: PgCluster, db: string, sql: string): Promise<string[]> {
  const rows = await c.sql(sql, [], db);
  return rows.map((r) => JSON.stringify(r)).sort();
}

/** A TCP port free on 127.0.0.1 right now (for `http.listen`). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}
