import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TestkitError } from './errors.js';

const exec = promisify(execFile);

/** Postgres refuses to run as root; as root the kit runs it as this user. */
export const SERVER_OS_USER = 'kuvasz-pg';

export interface OsIds {
  uid: number;
  gid: number;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

async function lookup(user: string): Promise<OsIds | undefined> {
  try {
    const uid = Number((await exec('id', ['-u', user])).stdout.trim());
    const gid = Number((await exec('id', ['-g', user])).stdout.trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

let cached: Promise<OsIds> | undefined;

/** Creates (once) the unprivileged system user that owns and runs the clusters. */
export function ensureServerOsUser(): Promise<OsIds> {
  cached ??= (async () => {
    const existing = await lookup(SERVER_OS_USER);
    if (existing) return existing;
    try {
      await exec('useradd', [
        '--system',
        '--user-group',
        '--no-create-home',
        '--shell',
        '/usr/sbin/nologin',
        SERVER_OS_USER,
      ]);
    } catch (err: unknown) {
      // Another worker may have created it at the same moment; the lookup decides.
      const again = await lookup(SERVER_OS_USER);
      if (again) return again;
      throw new TestkitError(
        'os_user',
        `running as root, the test kit must run PostgreSQL as an unprivileged user but could not create '${SERVER_OS_USER}' with useradd; create it yourself (useradd --system ${SERVER_OS_USER}) or run the tests as a normal user`,
        { cause: err },
      );
    }
    const created = await lookup(SERVER_OS_USER);
    if (!created) {
      throw new TestkitError(
        'os_user',
        `user '${SERVER_OS_USER}' was created but cannot be looked up`,
      );
    }
    return created;
  })();
  return cached;
}
