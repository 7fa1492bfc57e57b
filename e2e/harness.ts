import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PgCluster } from '@kuvasz/testkit';
import { waitFor } from '@kuvasz/testkit';
import { CLI } from './cli.js';

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
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => resolve({ code, signal })),
    );
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
