import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { DEFAULT_SETTINGS, PgCluster, type ServerSettings, settingsToFlags } from './cluster.js';
import { TestkitError } from './errors.js';
import { ensureServerOsUser, isRoot, type OsIds } from './os-user.js';
import { clustersRoot, kitRoot, OWNER_FILE, trackCluster } from './registry.js';
import { makeTlsFiles, type TlsFiles } from './tls.js';
import { embeddedBinariesDir, type PgMajor } from './versions.js';

export interface EmbeddedOptions {
  version: PgMajor;
  settings?: ServerSettings;
  /** Milliseconds to wait for the server to accept connections (default 60 s). */
  startTimeoutMs?: number;
  /** Serve TLS with certificates made for this server; accept client certificates (see TlsFiles). */
  tls?: boolean;
  /** The binaries' `native/` folder (bin, lib, share), instead of the installed `pg-binaries-<major>`. */
  binaries?: string;
}

const SUPERUSER = 'postgres';

function mkdirShared(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o755);
}

/**
 * As root, the server runs as an unprivileged user who may not be able to
 * traverse the checkout (mktemp -d and /root are 0700). The binaries are
 * copied once per version into a world-readable cache under the kit's root.
 */
async function stageBinaries(version: PgMajor, binaries: string | undefined): Promise<string> {
  const source = binaries ?? embeddedBinariesDir(version);
  if (!fs.existsSync(path.join(source, 'bin', 'postgres'))) {
    throw new TestkitError(
      'binaries_missing',
      `PostgreSQL ${version} binaries are missing at ${source}; reinstall with pnpm install (the package's postinstall must be allowed in onlyBuiltDependencies)`,
    );
  }
  if (!isRoot()) return source;
  const pkg = JSON.parse(fs.readFileSync(path.join(source, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  const binRoot = path.join(kitRoot(), 'bin');
  mkdirShared(kitRoot());
  mkdirShared(binRoot);
  const target = path.join(binRoot, pkg.version);
  if (fs.existsSync(target)) return target;
  const tmp = await fsp.mkdtemp(path.join(binRoot, `.staging-${pkg.version}-`));
  await fsp.cp(source, tmp, { recursive: true, verbatimSymlinks: true });
  await fsp.chmod(tmp, 0o755);
  try {
    await fsp.rename(tmp, target);
  } catch {
    // Another worker staged the same version first: use theirs.
    await fsp.rm(tmp, { recursive: true, force: true });
  }
  return target;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function run(
  cmd: string,
  args: string[],
  ids: OsIds | undefined,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...ids, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${path.basename(cmd)} exited with ${code}: ${out}`)),
    );
  });
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function readFrom(file: string, offset: number): string {
  try {
    return fs.readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

function tail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no server log)';
  }
}

async function acceptsConnections(port: number, password: string): Promise<boolean> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: SUPERUSER,
    password,
    database: 'postgres',
    connectionTimeoutMillis: 2000,
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

class EmbeddedServer {
  private child: ChildProcess | undefined;
  private exited: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly bin: string,
    readonly dir: string,
    private readonly ids: OsIds | undefined,
    private readonly env: NodeJS.ProcessEnv,
    private readonly flags: string[],
    private readonly password: string,
    private readonly startTimeoutMs: number,
    public port: number,
  ) {}

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  get logFile(): string {
    return path.join(this.dir, 'server.log');
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  /**
   * Starts the postmaster. Retries on another port if the chosen one was
   * taken meanwhile, and waits out the backends of a killed postmaster, which
   * hold shared memory until they notice their parent is gone.
   */
  async start(allowNewPort: boolean): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const logStart = fileSize(this.logFile);
      try {
        await this.startOnce();
        return;
      } catch (err: unknown) {
        const log = readFrom(this.logFile, logStart);
        const portTaken = /could not (bind|create any TCP\/IP sockets)|Address already in use/.test(
          log,
        );
        const shmBusy = /pre-existing shared memory block|lock file .* already exists/.test(log);
        if (portTaken && allowNewPort && attempt < 3) {
          this.port = await freePort();
        } else if (shmBusy && attempt < 50) {
          await new Promise((r) => setTimeout(r, 200));
        } else {
          throw err;
        }
      }
    }
  }

  private async startOnce(): Promise<void> {
    const logFd = fs.openSync(this.logFile, 'a');
    const args = ['-D', this.dataDir, '-p', String(this.port), ...this.flags];
    const child = spawn(path.join(this.bin, 'bin', 'postgres'), args, {
      ...this.ids,
      env: this.env,
      stdio: ['ignore', logFd, logFd],
      // A process group of its own: a terminal's Ctrl-C goes to the owning
      // process, which stops its servers in order (the registry's signal
      // hooks, or an app such as the demo), instead of the servers shutting
      // down under their clients.
      detached: true,
    });
    fs.closeSync(logFd);
    this.child = child;
    this.exited = once(child, 'exit').catch(() => undefined);
    let exitedEarly = false;
    child.once('exit', () => {
      exitedEarly = true;
    });
    const deadline = Date.now() + this.startTimeoutMs;
    while (!(await acceptsConnections(this.port, this.password))) {
      if (exitedEarly) {
        throw new TestkitError(
          'start_failed',
          `PostgreSQL exited during start-up (port ${this.port}); server log:\n${tail(this.logFile)}`,
        );
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new TestkitError(
          'start_failed',
          `PostgreSQL did not accept connections within ${this.startTimeoutMs} ms; server log:\n${tail(this.logFile)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Fast shutdown (SIGINT), escalating to SIGKILL if the server hangs. */
  async shutdown(signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Starts a throwaway cluster from the npm-packaged binaries of `version`. */
export async function startEmbedded(options: EmbeddedOptions): Promise<PgCluster> {
  const bin = await stageBinaries(options.version, options.binaries);
  const ids = isRoot() ? await ensureServerOsUser() : undefined;

  mkdirShared(kitRoot());
  mkdirShared(clustersRoot());
  const dir = await fsp.mkdtemp(path.join(clustersRoot(), `${process.pid}-pg${options.version}-`));
  await fsp.chmod(dir, 0o755);
  await fsp.writeFile(path.join(dir, OWNER_FILE), `${process.pid}\n`);
  const dataDir = path.join(dir, 'data');
  const sockDir = path.join(dir, 'sock');
  const pwFile = path.join(dir, 'pwfile');
  const password = `kvsz-${randomBytes(9).toString('base64url')}`;
  await fsp.mkdir(dataDir, { mode: 0o700 });
  await fsp.mkdir(sockDir, { mode: 0o755 });
  await fsp.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  if (ids) {
    for (const p of [dataDir, sockDir, pwFile]) await fsp.chown(p, ids.uid, ids.gid);
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LC_ALL: 'C',
    LANG: 'C',
    LD_LIBRARY_PATH: path.join(bin, 'lib'),
  };
  try {
    await run(
      path.join(bin, 'bin', 'initdb'),
      [
        '-D',
        dataDir,
        '-U',
        SUPERUSER,
        '-E',
        'UTF8',
        '--locale=C',
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        `--pwfile=${pwFile}`,
        '--no-sync',
      ],
      ids,
      env,
    );
  } catch (err: unknown) {
    await fsp.rm(dir, { recursive: true, force: true });
    throw new TestkitError(
      'initdb_failed',
      `initdb for PostgreSQL ${options.version} failed: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  await fsp.rm(pwFile, { force: true });

  let tls: TlsFiles | undefined;
  let tlsSettings: ServerSettings = {};
  if (options.tls) {
    tls = await makeTlsFiles(path.join(dir, 'tls'), ids);
    // Before the password lines: the certificate role logs in with its certificate only.
    const hba = path.join(dataDir, 'pg_hba.conf');
    const lines = await fsp.readFile(hba, 'utf8');
    await fsp.writeFile(hba, `hostssl all ${tls.certUser} 127.0.0.1/32 cert\n${lines}`);
    tlsSettings = {
      ssl: 'on',
      ssl_cert_file: tls.serverCert,
      ssl_key_file: tls.serverKey,
      ssl_ca_file: tls.ca,
    };
  }
  const flags = [
    '-k',
    sockDir,
    ...settingsToFlags({
      listen_addresses: '127.0.0.1',
      ...DEFAULT_SETTINGS,
      ...tlsSettings,
      ...options.settings,
    }),
  ];
  const server = new EmbeddedServer(
    bin,
    dir,
    ids,
    env,
    flags,
    password,
    options.startTimeoutMs ?? 60_000,
    await freePort(),
  );
  const untrack = trackCluster(dir, () => server.pid);
  try {
    await server.start(true);
  } catch (err: unknown) {
    untrack();
    await server.shutdown('SIGKILL');
    await fsp.rm(dir, { recursive: true, force: true });
    throw err;
  }

  const cluster = new PgCluster({
    backend: 'embedded',
    host: '127.0.0.1',
    port: server.port,
    user: SUPERUSER,
    password,
    version: options.version,
    dataDir,
    ...(tls ? { tls } : {}),
    lifecycle: {
      async stop() {
        await server.shutdown();
        untrack();
        await fsp.rm(dir, { recursive: true, force: true, maxRetries: 3 });
      },
      async restart() {
        await server.shutdown();
        await server.start(false);
      },
      async kill() {
        await server.shutdown('SIGKILL');
        // Orphaned backends exit when they notice the postmaster is gone; a new
        // postmaster refuses to start while they still hold shared memory.
      },
      async start() {
        await server.start(false);
      },
    },
  });
  if (tls) await cluster.sql(`CREATE ROLE ${tls.certUser} LOGIN SUPERUSER REPLICATION`);
  return cluster;
}
