import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Runs a package's `bench/run.sh [name]` at whatever size `env` sets and
 * returns its standard output, for tests that a bench still runs to its
 * table (timings are the bench's business, never a test's). Fails on a
 * non-zero exit or after `timeoutMs`, with the bench's output in the error.
 */
export async function runBench(
  packageDir: string,
  name: string | undefined,
  env: Record<string, string>,
  timeoutMs = 150_000,
): Promise<string> {
  const { stdout } = await run('bash', ['bench/run.sh', ...(name ? [name] : [])], {
    cwd: packageDir,
    env: { ...process.env, ...env },
    timeout: timeoutMs,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}
