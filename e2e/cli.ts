import { spawnSync } from 'node:child_process';
import path from 'node:path';

/** The bundled CLI that the e2e tests exercise (built by turbo before `e2e#test`). */
export const CLI = path.resolve(
  import.meta.dirname,
  '..',
  'apps',
  'streamer',
  'dist',
  'kuvasz-streamer.mjs',
);

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): CliResult {
  const res = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...options.env },
    cwd: options.cwd ?? path.dirname(CLI),
    timeout: options.timeoutMs ?? 60_000,
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}
