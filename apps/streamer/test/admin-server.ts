/**
 * The HTTP server with the admin API (and its page) against a real
 * destination, without the CLI: what the admin API and page tests start.
 */
import { ensureMetadataSchema } from '@kuvasz/core';
import type { PgCluster } from '@kuvasz/testkit';
import pg from 'pg';
import pino from 'pino';
import { encrypt } from 'unixcrypt';
import { afterEach } from 'vitest';
import { handleAdmin } from '../src/admin/admin-api.js';
import { adminDeps } from '../src/admin/admin-deps.js';
import { FileMapStore, type MapStore } from '../src/admin/map-store.js';
import { openApiDocument } from '../src/admin/openapi.js';
import { parseConfig } from '../src/config/load.js';
import {
  type HttpHandlers,
  type HttpServer,
  startHttpServer,
} from '../src/observability/http-server.js';
import { createMetrics } from '../src/observability/metrics.js';

export const PASSWORD = 'correct horse';
const log = pino({ level: 'silent' });

// biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked field by field
export type Json = any;

export interface Api {
  url: string;
  applied: string[];
  call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: Json; headers: Headers }>;
  token(): Promise<string>;
  close(): Promise<void>;
}

export interface StartApiOptions {
  cors?: Parameters<typeof adminDeps>[0]['cors'];
  /** The document of `/api/status` (default `{}`). */
  status?: () => unknown;
}

const servers: HttpServer[] = [];
const pools: pg.Pool[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const p of pools.splice(0)) await p.end();
});

/** Starts the server on a free port; it is closed after the test. */
export async function startApi(
  destUrl: string,
  store: (pool: pg.Pool) => MapStore,
  options: StartApiOptions = {},
): Promise<Api> {
  const pool = new pg.Pool({ connectionString: destUrl, max: 4 });
  // The cluster may be stopped before the pool ends: an idle client's termination is no error here.
  pool.on('error', () => undefined);
  pools.push(pool);
  const c = await pool.connect();
  try {
    await ensureMetadataSchema(c, 'kuvasz');
  } finally {
    c.release();
  }
  const applied: string[] = [];
  const mapStore = store(pool);
  const deps = adminDeps({
    store: () => mapStore,
    destination: pool,
    destinationUrl: () => destUrl,
    destinationSchema: () => 'public',
    metadataSchema: () => 'kuvasz',
    auth: {
      adminPasswordHash: encrypt(PASSWORD),
      jwtKey: 'a-test-key-of-32-bytes-or-more!!',
      ttlSeconds: 300,
      apiToken: undefined,
    },
    cors: options.cors,
    apply: async (reason) => {
      applied.push(reason);
    },
    log,
  });
  const server = await startHttpServer(
    { host: '127.0.0.1', port: 0 },
    {
      metrics: createMetrics(),
      // A test's partial document stands for the status document.
      status: (options.status ??
        (() => ({ generatedAt: '', sources: [] }))) as HttpHandlers['status'],
      ready: () => true,
      admin: (req, res) => handleAdmin(req, res, deps, () => openApiDocument('test')),
    },
    log,
  );
  servers.push(server);
  const call: Api['call'] = async (method, path, body, headers = {}) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body === undefined
        ? {}
        : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  };
  let token: string | undefined;
  return {
    url: server.url,
    applied,
    call,
    async token() {
      if (!token) token = (await call('POST', '/api/login', { password: PASSWORD })).body.token;
      return token!;
    },
    close: () => server.close(),
  };
}

/** The declarative (read-only) map of a configuration file: database crm, sid eu, customers as append. */
export function declarativeStore(destUrl: string, srcUrl: string): () => MapStore {
  const cfg = parseConfig(
    `destination: { url: "${destUrl}" }
databases:
  - database: crm
    urls: [{ url: "${srcUrl}", sid: eu }]
    tables: { customers: { type: append } }
`,
    'streamer.yaml',
  );
  return () => new FileMapStore(cfg, 'streamer.yaml');
}

/**
 * A source database with `customers` and `orders` (and what `moreSql`
 * creates) and an empty destination database, on one cluster.
 */
export async function sourceAndDestination(c: PgCluster, moreSql = '') {
  const src = await c.createDatabase();
  const dst = await c.createDatabase();
  await c.sql(
    `CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
     CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int, total numeric(10,2));
     ${moreSql}`,
    [],
    src,
  );
  return { c, src, dst };
}
