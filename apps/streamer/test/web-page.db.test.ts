/**
 * The page at `/` in headless Chromium (Debian's `chromium`, driven by
 * playwright-core): log in through the form, replicate a table with a click
 * and stop it with another, each checked in the API and the store, not only
 * on the page; a wrong password and a read-only map as the page shows them;
 * API data rendered as text.
 */
import { accessSync, constants, readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { testedVersions, waitFor } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DestinationMapStore } from '../src/admin/map-store.js';
import {
  type Api,
  declarativeStore,
  type Json,
  PASSWORD,
  sourceAndDestination,
  startApi,
} from './admin-server.js';

/** A table name that is markup: the page must show it as text. */
const HOSTILE = '<img src=x onerror=window.pwned=1>';

/** KUVASZ_CHROMIUM, else Debian's chromium on PATH; a clear failure when there is none. */
function chromiumBinary(): string {
  const explicit = process.env.KUVASZ_CHROMIUM;
  const candidates = explicit
    ? [explicit]
    : (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'chromium'));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not this one
    }
  }
  throw new Error(
    `headless Chromium not found (${explicit ? `KUVASZ_CHROMIUM=${explicit} is not executable` : 'no chromium on PATH'}): the page tests need Debian’s chromium (apt-get install -y chromium; .ci/run installs it) or KUVASZ_CHROMIUM set to a Chromium binary`,
  );
}

let context: BrowserContext;
let profile: string;
/** Errors the pages raised or logged (a CSP refusal, an exception), checked after each test. */
const pageErrors: string[] = [];

beforeAll(async () => {
  profile = await mkdtemp(path.join(tmpdir(), 'kvsz-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumBinary(),
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
});

afterAll(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function open(api: Api): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // Chromium logs every non-2xx fetch; the tests provoke 401s on purpose.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
      pageErrors.push(`console: ${m.text()}`);
  });
  await page.goto(`${api.url}/`);
  return page;
}

const WAIT = { timeoutMs: 15_000 };

describe('the admin page in headless Chromium', () => {
  const versions = testedVersions();
  const pgc = useCluster({ version: versions[versions.length - 1]! });

  const setup = () =>
    sourceAndDestination(pgc.get(), `CREATE TABLE "${HOSTILE}" (id int PRIMARY KEY);`);

  test('assets: the vendored Preact build, a strict CSP, nothing else answered', async () => {
    const { c, dst } = await setup();
    const api = await startApi(c.urlFor(dst), (p) => new DestinationMapStore(p, 'kuvasz'));
    const home = await fetch(`${api.url}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = home.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    expect(await home.text()).toContain('data-map-mode="destination"');
    // Every asset is served exactly as its source (vitest would empty a CSS import if let).
    const require = createRequire(import.meta.url);
    const web = (f: string) => new URL(`../src/admin/web/${f}`, import.meta.url);
    const sources: [string, string | URL, string][] = [
      ['/ui/app.js', web('app.js'), 'text/javascript'],
      ['/ui/style.css', web('style.css'), 'text/css'],
      ['/ui/preact.js', require.resolve('preact'), 'text/javascript'],
      ['/ui/hooks.js', require.resolve('preact/hooks'), 'text/javascript'],
      // The ESM build (the `import` condition), as the bundle resolves it; `require` gives the UMD one.
      ['/ui/htm.js', path.join(path.dirname(require.resolve('htm')), 'htm.mjs'), 'text/javascript'],
    ];
    for (const [asset, file, type] of sources) {
      const res = await fetch(`${api.url}${asset}`);
      expect(res.headers.get('content-type'), asset).toBe(`${type}; charset=utf-8`);
      expect(await res.text(), asset).toBe(readFileSync(file, 'utf8'));
    }
    expect((await fetch(`${api.url}/ui/nope.js`)).status).toBe(404);
    expect((await fetch(`${api.url}/ui/app.js`, { method: 'POST' })).status).toBe(404);
  });

  test('log in, replicate a table with a click, stop it with a click; a wrong password', async () => {
    const { c, src, dst } = await setup();
    const api = await startApi(c.urlFor(dst), (p) => new DestinationMapStore(p, 'kuvasz'), {
      status: () => ({
        sources: [
          {
            database: 'crm',
            sid: 'eu',
            slot: 'kuvasz_crm_eu',
            state: 'retrying',
            lastError: {
              message: 'connect ECONNREFUSED <b>127.0.0.1:1</b>',
              kind: 'connect',
              at: '2026-12-06T10:00:00.000Z',
            },
            lagSeconds: 1.5,
            retries: 3,
            health: { lagBytes: '2048', error: null },
          },
        ],
        tables: [],
      }),
    });
    const auth = { authorization: `Bearer ${await api.token()}` };
    expect((await api.call('POST', '/api/db', { name: 'crm' }, auth)).status).toBe(201);
    const url = { db_id: 1, url: c.urlFor(src), sid: 'eu' };
    expect((await api.call('POST', '/api/url', url, auth)).status).toBe(201);

    const page = await open(api);
    expect(await page.evaluate('getComputedStyle(document.querySelector("header")).display')).toBe(
      'flex',
    );
    const sources = page.locator('#sources tbody tr');
    await sources.first().waitFor();
    expect(await sources.first().locator('td').allTextContents()).toEqual([
      'crm',
      'eu',
      'retrying',
      '1.5 s',
      '2.0 kB',
      '3',
      'connect: connect ECONNREFUSED <b>127.0.0.1:1</b> (2026-12-06T10:00:00.000Z)',
    ]);
    await page.locator('#map').waitFor();
    const mapRow = (name: string) => page.locator('#map tbody tr', { hasText: `public.${name}` });
    // The hostile table name is text: shown as typed, no element made of it.
    expect(await mapRow(HOSTILE).count()).toBe(1);
    expect(await page.locator('#app img, #app b').count()).toBe(0);
    expect(await page.evaluate('typeof window.pwned')).toBe('undefined');
    const replicate = page.getByRole('button', { name: 'Replicate crm public.orders' });
    expect(await replicate.isDisabled()).toBe(true);

    // A wrong password: the API's error, no token kept, nothing enabled.
    await page.getByLabel('Admin password').fill('not the password');
    await page.getByRole('button', { name: 'Log in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.getAttribute('data-code')).toBe('unauthorized');
    expect(await alert.locator('.message').textContent()).toBe('wrong password');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(await replicate.isDisabled()).toBe(true);

    // The right one: a token in the session, the alert gone, the buttons enabled.
    await page.getByLabel('Admin password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    expect(await alert.count()).toBe(0);
    await waitFor(async () => !(await replicate.isDisabled()), WAIT);

    // Replicate orders as an append table with a click.
    await page.getByLabel('Type for crm public.orders').selectOption('append');
    await replicate.click();
    const tbl = await waitFor(async () => {
      const list = (await api.call('GET', '/api/tbl')).body as Json[];
      return list.find((t) => t.name === 'orders');
    }, WAIT);
    expect(tbl).toMatchObject({ db_name: 'crm', schema: 'public', type: 'append' });
    const stored = await c.sql<{ name: string; type: string }>(
      'SELECT name, type FROM kuvasz.map_tbl',
      [],
      dst,
    );
    expect(stored).toEqual([{ name: 'orders', type: 'append' }]);
    const target = await c.sql<{ n: number }>(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'orders'`,
      [],
      dst,
    );
    expect(target[0]?.n).toBe(1);
    expect(api.applied).toContain('table public.orders of crm added');
    await waitFor(
      async () => (await mapRow('orders').getAttribute('data-replicated')) === 'true',
      WAIT,
    );
    expect(await mapRow('orders').locator('td').nth(4).textContent()).toBe('yes (append)');
    const listed = page.locator(`#tables tr[data-tbl-id="${tbl.id}"]`);
    expect(await listed.locator('td').nth(2).textContent()).toBe('public.orders');

    // Stop replicating it with a click in the tables list.
    await listed.getByRole('button', { name: 'Stop replicating crm public.orders' }).click();
    await waitFor(
      async () => ((await api.call('GET', '/api/tbl')).body as Json[]).length === 0,
      WAIT,
    );
    expect(await c.sql('SELECT * FROM kuvasz.map_tbl', [], dst)).toEqual([]);
    expect(api.applied.at(-1)).toBe('table public.orders of crm removed');
    await waitFor(
      async () => (await mapRow('orders').getAttribute('data-replicated')) === 'false',
      WAIT,
    );
    const map = (await api.call('GET', '/api/map')).body as Json[];
    expect(map.find((m) => m.name === 'orders')).toMatchObject({
      replicated: false,
      present: true,
    });
    expect(await page.locator('#tables').count()).toBe(0);
    expect(await alert.count()).toBe(0);
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  test('a read-only map: the note, the buttons disabled after login', async () => {
    const { c, src, dst } = await setup();
    const api = await startApi(c.urlFor(dst), declarativeStore(c.urlFor(dst), c.urlFor(src)));
    const page = await open(api);
    await page.locator('#read-only').waitFor();
    await page.getByLabel('Admin password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    await page.locator('#map').waitFor();
    const stop = page.locator('#tables').getByRole('button', {
      name: 'Stop replicating crm public.customers',
    });
    expect(await stop.isDisabled()).toBe(true);
    expect(
      await page.getByRole('button', { name: 'Replicate crm public.orders' }).isDisabled(),
    ).toBe(true);
    expect(await page.locator('#read-only').textContent()).toContain('read-only');
    // What the API says to a change, the reason the page keeps them disabled.
    const refused = await api.call('DELETE', '/api/tbl/1', undefined, {
      authorization: `Bearer ${await api.token()}`,
    });
    expect(refused).toMatchObject({ status: 403, body: { code: 'read_only' } });
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
