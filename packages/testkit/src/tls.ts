import { execFileSync } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { TestkitError } from './errors.js';
import type { OsIds } from './os-user.js';

/** The files of a TLS-enabled test server, made for it by `openssl` (see `makeTlsFiles`). */
export interface TlsFiles {
  /** The CA that signed the server's and the client's certificates (`sslrootcert`). */
  ca: string;
  /** Another CA, which signed nothing of this server: a wrong `sslrootcert`. */
  wrongCa: string;
  /** A client certificate and key for `certUser` (`sslcert`, `sslkey`). */
  clientCert: string;
  clientKey: string;
  /** The role that logs in with the client certificate (`cert` in pg_hba.conf), a superuser. */
  certUser: string;
  serverCert: string;
  serverKey: string;
}

export const CERT_USER = 'kvsz_cert';

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    throw new TestkitError(
      'tls_failed',
      `openssl ${args[0]} failed: ${(e as Error).message}; the TLS option needs the openssl command (Debian: apt-get install openssl)`,
      { cause: e },
    );
  }
}

/**
 * A CA, a server certificate for localhost and 127.0.0.1, a client
 * certificate for `CERT_USER`, and an unrelated CA, in `dir`. The server's
 * key belongs to the server's OS user (PostgreSQL refuses a key others can
 * read).
 */
export async function makeTlsFiles(dir: string, ids: OsIds | undefined): Promise<TlsFiles> {
  await fsp.mkdir(dir, { mode: 0o755 });
  const days = ['-days', '3'];
  const rsa = ['-newkey', 'rsa:2048', '-nodes'];
  openssl(
    [
      'req',
      '-x509',
      ...rsa,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      ...days,
      '-subj',
      '/CN=kvsz test CA',
    ],
    dir,
  );
  openssl(
    [
      'req',
      '-x509',
      ...rsa,
      '-keyout',
      'wrong-ca.key',
      '-out',
      'wrong-ca.crt',
      ...days,
      '-subj',
      '/CN=kvsz wrong CA',
    ],
    dir,
  );
  await fsp.writeFile(path.join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(
    [
      'req',
      '-new',
      ...rsa,
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=localhost',
    ],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      ...days,
      '-extfile',
      'server.ext',
    ],
    dir,
  );
  openssl(
    [
      'req',
      '-new',
      ...rsa,
      '-keyout',
      'client.key',
      '-out',
      'client.csr',
      '-subj',
      `/CN=${CERT_USER}`,
    ],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'client.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'client.crt',
      ...days,
    ],
    dir,
  );
  const file = (name: string) => path.join(dir, name);
  for (const f of ['server.key', 'client.key', 'ca.key', 'wrong-ca.key'])
    await fsp.chmod(file(f), 0o600);
  if (ids) {
    for (const f of ['server.key', 'server.crt', 'ca.crt'])
      await fsp.chown(file(f), ids.uid, ids.gid);
  }
  return {
    ca: file('ca.crt'),
    wrongCa: file('wrong-ca.crt'),
    clientCert: file('client.crt'),
    clientKey: file('client.key'),
    certUser: CERT_USER,
    serverCert: file('server.crt'),
    serverKey: file('server.key'),
  };
}
