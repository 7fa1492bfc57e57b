import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The CLI under test, built by run.sh; `KUVASZ_BENCH_CLI` runs another build (before / after a change). */
export const CLI =
  process.env.KUVASZ_BENCH_CLI ||
  path.resolve(import.meta.dirname, '..', '..', 'apps', 'streamer', 'dist', 'kuvasz-streamer.mjs');

export function writeConfig(name: string, yaml: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kvsz-bench-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, yaml);
  return file;
}

/** One-shot command (plan, teardown); throws with its output when it fails. */
export function cli(args: string[]): string {
  const res = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
  if (res.status !== 0)
    throw new Error(`kuvasz-streamer ${args[0]} exited ${res.status}: ${res.stderr}${res.stdout}`);
  return res.stdout;
}

function statusField(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(
      fs.readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return m?.[1] ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * `kuvasz-streamer run` in the background with JSON logs at warn level plus
 * the lines we wait for. Its peak RSS is the kernel's VmHWM of the process.
 */
export class StreamerProcess {
  readonly child: ChildProcess;
  private stderr = '';
  private lines: Record<string, unknown>[] = [];
  readonly exited: Promise<number | null>;
  private lastHwm = 0;

  constructor(config: string, env: NodeJS.ProcessEnv = {}) {
    // KUVASZ_BENCH_NODE_ARGS: extra node flags for the streamer (profiling: --cpu-prof ...).
    const nodeArgs = process.env.KUVASZ_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    // KUVASZ_BENCH_NICE: the streamer's nice value (e.g. -10, as root): a diagnostic of how much
    // of its latency is waiting for a CPU on a machine it shares with the servers.
    const nice = process.env.KUVASZ_BENCH_NICE;
    const argv = [...nodeArgs, CLI, 'run', '-c', config, '--log-format', 'json'];
    this.child = spawn(
      nice ? 'nice' : process.execPath,
      nice ? ['-n', nice, process.execPath, ...argv] : argv,
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, ...env },
      },
    );
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      let nl = this.stderr.indexOf('\n');
      while (nl >= 0) {
        const line = this.stderr.slice(0, nl);
        this.stderr = this.stderr.slice(nl + 1);
        if (line.startsWith('{')) {
          try {
            const obj = JSON.parse(line) as Record<string, unknown>;
            // Keep what we wait for and every problem; drop the progress chatter.
            if (typeof obj.level === 'number' && (obj.level >= 40 || obj.msg === 'streaming'))
              this.lines.push(obj);
            if (obj.msg === 'streaming' && this.streamingAt === undefined)
              this.streamingAt = performance.now() - this.started;
          } catch {
            // a partial line: ignore
          }
        }
        nl = this.stderr.indexOf('\n');
      }
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Peak resident set size of the process so far, in bytes. */
  peakRss(): number {
    const v = statusField(this.pid, 'VmHWM');
    if (v > 0) this.lastHwm = v;
    return this.lastHwm;
  }

  rss(): number {
    return statusField(this.pid, 'VmRSS');
  }

  count(msg: string): number {
    return this.lines.filter((l) => l.msg === msg).length;
  }

  problems(): string[] {
    return this.lines
      .filter((l) => typeof l.level === 'number' && l.level >= 50)
      .map((l) => `${String(l.msg)}: ${String((l.err as { message?: string })?.message ?? '')}`);
  }

  /** Milliseconds since the process started when its first `streaming` line arrived. */
  streamingAt: number | undefined;
  private readonly started = performance.now();

  /** Resolves once `n` sources log `streaming` (the initial copy is done). */
  async streaming(n: number, timeoutMs: number): Promise<void> {
    const t0 = Date.now();
    while (this.count('streaming') < n) {
      if (this.child.exitCode !== null)
        throw new Error(
          `the streamer exited (${this.child.exitCode}): ${this.problems().join('; ')}`,
        );
      if (Date.now() - t0 > timeoutMs)
        throw new Error(
          `the streamer did not stream within ${timeoutMs} ms: ${this.problems().join('; ')}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    this.peakRss();
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 60_000);
    await this.exited;
    clearTimeout(timer);
  }
}
