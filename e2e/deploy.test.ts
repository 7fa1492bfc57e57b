/**
 * The deployment files of docs/deploy, tried without touching this machine:
 * install.sh runs as root in a private mount namespace whose /etc, /opt and
 * /usr/local are overlays thrown away afterwards (systemctl is a stub that
 * records its calls); the Dockerfile's build stage runs in a clean export of
 * the repository and its HEALTHCHECK against a real HTTP server. No Docker
 * daemon is needed (these machines have none).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { CLI } from './cli.js';
import { tempDir } from './harness.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const DEPLOY = path.join(ROOT, 'docs', 'deploy');
const dockerfile = fs.readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8');
const work = tempDir('kvsz-deploy-');
const { NODE_PATH: _workspace, ...ENV } = process.env;

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

function run(cmd: string, args: string[], options: { cwd?: string; input?: string } = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', env: ENV, timeout: 240_000, ...options });
}

describe('install.sh and the systemd unit', () => {
  const isRoot = process.getuid?.() === 0;

  test.runIf(isRoot)(
    'creates the user and directories, installs the unit; the user runs the CLI',
    () => {
      const ov = path.join(work, 'overlay');
      const stub = path.join(ov, 'bin');
      fs.mkdirSync(stub, { recursive: true });
      fs.writeFileSync(
        path.join(stub, 'systemctl'),
        `#!/bin/sh\necho "systemctl $*" >> ${ov}/systemctl.log\n`,
        { mode: 0o755 },
      );
      const mounts = ['/etc', '/opt', '/usr/local']
        .map((dir, i) => {
          fs.mkdirSync(path.join(ov, `${i}`, 'up'), { recursive: true });
          fs.mkdirSync(path.join(ov, `${i}`, 'work'), { recursive: true });
          return `mount -t overlay overlay -o lowerdir=${dir},upperdir=${ov}/${i}/up,workdir=${ov}/${i}/work ${dir}`;
        })
        .join('\n');
      const script = `set -eu
${mounts}
PATH=${stub}:$PATH bash ${DEPLOY}/install.sh ${CLI}
echo "--- user"; id kuvasz
echo "--- dirs"; stat -c '%n %a %U:%G' /opt/kuvasz-streamer/kuvasz-streamer.mjs /etc/kuvasz-streamer /etc/kuvasz-streamer/env
echo "--- as kuvasz"; su -s /bin/sh kuvasz -c 'kuvasz-streamer version'
echo "--- verify"; systemd-analyze verify /etc/systemd/system/kuvasz-streamer.service 2>&1 || true
echo "--- again"; PATH=${stub}:$PATH bash ${DEPLOY}/install.sh ${CLI} >/dev/null && echo idempotent
`;
      const res = run('unshare', ['--mount', 'bash', '-c', script]);
      expect(res.status, `${res.stdout}\n${res.stderr}`).toBe(0);
      const out = res.stdout;
      expect(out).toMatch(/--- user\nuid=\d+\(kuvasz\) gid=\d+\(kuvasz\)/);
      expect(out).toContain('/opt/kuvasz-streamer/kuvasz-streamer.mjs 755 root:root');
      expect(out).toContain('/etc/kuvasz-streamer 750 root:kuvasz');
      expect(out).toContain('/etc/kuvasz-streamer/env 640 root:kuvasz');
      expect(out).toMatch(/--- as kuvasz\n\d+\.\d+\.\d+/);
      // systemd-analyze (when the machine has it) finds nothing to say about the unit.
      expect(out).toMatch(/--- verify\n--- again\nidempotent\n$/);
      expect(fs.readFileSync(path.join(ov, 'systemctl.log'), 'utf8')).toBe(
        'systemctl daemon-reload\nsystemctl daemon-reload\n',
      );
      // Nothing of it outside the namespace.
      expect(run('id', ['kuvasz']).status).not.toBe(0);
    },
  );

  test('the unit does not wait for every source, and names this project', () => {
    const unit = fs.readFileSync(path.join(DEPLOY, 'kuvasz-streamer.service'), 'utf8');
    expect(unit).not.toMatch(/^ExecStartPre=/m);
    expect(unit).toMatch(
      /^ExecStart=\/usr\/bin\/node \/opt\/kuvasz-streamer\/kuvasz-streamer\.mjs run /m,
    );
    expect(unit).toMatch(/^User=kuvasz$/m);
    expect(unit).toMatch(/^RestartPreventExitStatus=2$/m);
    expect(unit).toMatch(/^Documentation=https:\/\/github\.com\/kuvasz-io\/kuvasz-streamer-ts\//m);
  });
});

describe('Dockerfile', () => {
  test('two stages, a non-root user, a HEALTHCHECK on /readyz; .dockerignore keeps the checkout out', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*KUVASZ_HEALTH_URL/m);
    expect(dockerfile).toMatch(/^ENV KUVASZ_HEALTH_URL=http:\/\/127\.0\.0\.1:8080\/readyz$/m);
    const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['**/node_modules', '**/dist', '.git']) expect(ignore).toContain(p);
  });

  test("the build stage's commands build the bundle from a clean export of the repository", () => {
    // What COPY . . brings in: the tracked files (the working tree's, committed or not).
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    const files = execFileSync(
      'git',
      ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    )
      .split('\0')
      .filter((f) => f && fs.existsSync(path.join(ROOT, f)));
    for (const f of files) fs.cpSync(path.join(ROOT, f), path.join(src, f));
    const runLine = /^RUN (pnpm install[\s\S]*?build)$/m.exec(
      dockerfile.replaceAll('\\\n', ''),
    )?.[1];
    expect(runLine).toMatch(/--frozen-lockfile/);
    // Offline from this machine's pnpm store: the image build downloads the same packages.
    const res = run('bash', ['-c', runLine!.replace('pnpm install', 'pnpm install --offline')], {
      cwd: src,
    });
    expect(res.status, `${res.stdout}\n${res.stderr}`).toBe(0);
    const bundle = path.join(src, 'apps', 'streamer', 'dist', 'kuvasz-streamer.mjs');
    expect(run('node', [bundle, 'version']).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  test('the HEALTHCHECK command: 0 when /readyz answers 200, 1 on 503 or no answer', async () => {
    const cmd = /^HEALTHCHECK [^\n]*\n\s*CMD (\[.*\])$/m.exec(dockerfile)?.[1];
    const [node, ...args] = JSON.parse(cmd!) as string[];
    expect(node).toBe('node');
    let ready = true;
    const server = http.createServer((req, res) => {
      res.writeHead(req.url === '/readyz' && ready ? 200 : 503).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
    const check = () =>
      new Promise<number | null>((resolve) => {
        spawn(process.execPath, args, {
          env: { ...ENV, KUVASZ_HEALTH_URL: url },
          stdio: 'ignore',
        }).on('exit', (code) => resolve(code));
      });
    try {
      expect(await check()).toBe(0);
      ready = false;
      expect(await check()).toBe(1);
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(await check()).toBe(1);
  });
});
