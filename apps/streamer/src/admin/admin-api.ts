import type http from 'node:http';
import { redactPasswords } from '@kuvasz/core';
import { z } from 'zod';
import type { Auth } from './auth.js';
import { ApiError, badRequest, parseId, readJson, sendJson, sendList } from './http-json.js';
import type { MapCatalog, MapEntry } from './map-catalog.js';
import { mapProblems } from './map-config.js';
import {
  dbInput,
  type MapSnapshot,
  TABLE_TYPES,
  type TableType,
  type TblInput,
  type TblRow,
  tblInput,
  type UrlInput,
  type UrlRow,
  urlInput,
} from './map-model.js';
import type { MapStore } from './map-store.js';
import { serveWebPage } from './web-page.js';

export interface CorsSettings {
  allowedOrigins: string[];
  allowMethods: string[];
  allowHeaders: string[];
  allowCredentials: boolean;
  maxAgeSeconds: number;
}

/** What the API needs from the running streamer. */
export interface AdminDeps {
  store: MapStore;
  catalog: MapCatalog;
  auth: Auth;
  cors: CorsSettings | undefined;
  /**
   * Runs the pipeline with the map as it is now (sources added or removed,
   * tables published and copied); resolves once it runs. Handlers do not
   * wait for it, except where the old pipeline must be gone first.
   */
  apply(reason: string): Promise<void>;
  /** Forgets a table's copy on every source of its database and applies: it is copied again. */
  resync(tbl: TblRow): Promise<void>;
  /** Creates the target of a map entry, shaped after its source table. */
  createTarget(entry: MapEntry, type: TableType, target: string): Promise<void>;
  /** Drops the slot and the publication of a removed source URL. */
  dropSlot(url: UrlRow): Promise<void>;
}

interface Ctx {
  req: http.IncomingMessage;
  params: Record<string, string>;
  query: URLSearchParams;
  deps: AdminDeps;
}

type Reply = { status: number; body: unknown } | { list: unknown[] };

/** One route: what it does, for the handler and for the OpenAPI document. */
export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** OpenAPI style: `/api/db/{id}`. */
  path: string;
  summary: string;
  tag: 'Database' | 'URL' | 'Table' | 'Map' | 'Auth';
  /** Changes something: needs a token. */
  auth: boolean;
  body?: z.ZodType;
  /** Query parameters, documented. */
  query?: Record<string, string>;
  /** Example request body, checked by the tests against the handler. */
  example?: unknown;
  /** The success status (default 200). */
  status?: number;
  handle(ctx: Ctx): Promise<Reply>;
}

const ok = (body: unknown, status = 200): Reply => ({ status, body });

/** The zod error as the original's 400 answer. */
function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (!r.success) throw badRequest('invalid request body', z.prettifyError(r.error));
  return r.data;
}

/** A URL as the API shows it: never its password. */
const shown = (u: UrlRow): UrlRow => ({ ...u, url: redactPasswords(u.url) });

/** A PUT body whose password is the `***` a GET showed keeps the stored one. */
function keepPassword(next: string, previous: string): string {
  try {
    const n = new URL(next);
    if (n.password !== '***') return next;
    n.password = new URL(previous).password;
    return n.toString();
  } catch {
    return next;
  }
}

/** Refuses a change after which the map could not run (400, the problems in `info`). */
async function assertRunnable(
  deps: AdminDeps,
  change: (map: MapSnapshot) => MapSnapshot,
): Promise<void> {
  const problems = mapProblems(change(await deps.store.load()));
  if (problems.length > 0)
    throw badRequest(
      'the map would not be valid with this change',
      redactPasswords(problems.join('; ')),
    );
}

const nameOf = (map: MapSnapshot, dbId: number) => map.dbs.find((d) => d.id === dbId)?.name ?? '';

function withTbl(map: MapSnapshot, id: number, input: TblInput): MapSnapshot {
  const row: TblRow = {
    id,
    db_id: input.db_id,
    db_name: nameOf(map, input.db_id),
    schema: input.schema,
    name: input.name,
    type: input.type,
    target: input.target ?? input.name,
    partitions_regex: input.partitions_regex ?? null,
    filter: input.filter ?? null,
    set: input.set ?? null,
  };
  return { ...map, tbls: [...map.tbls.filter((t) => t.id !== id), row] };
}

function withUrl(map: MapSnapshot, id: number, input: UrlInput): MapSnapshot {
  const row: UrlRow = {
    id,
    db_id: input.db_id,
    db_name: nameOf(map, input.db_id),
    url: input.url,
    sid: input.sid,
  };
  return { ...map, urls: [...map.urls.filter((u) => u.id !== id), row] };
}

function withDbName(map: MapSnapshot, id: number, name: string): MapSnapshot {
  const rename = <T extends { db_id: number; db_name: string }>(r: T) =>
    r.db_id === id ? { ...r, db_name: name } : r;
  return {
    dbs: map.dbs.map((d) => (d.id === id ? { ...d, name } : d)),
    urls: map.urls.map(rename),
    tbls: map.tbls.map(rename),
  };
}

async function find<T extends { id: number }>(rows: T[], id: number, what: string): Promise<T> {
  const r = rows.find((x) => x.id === id);
  if (!r) throw new ApiError(404, 'not_found', `${what} ${id} not found`);
  return r;
}

const loginBody = z.strictObject({
  username: z.string().optional().describe('Ignored (the original has one admin)'),
  password: z.string().min(1).describe('The admin password'),
});

export const ROUTES: Route[] = [
  {
    method: 'POST',
    path: '/api/login',
    summary: 'Exchange the admin password for a token (JWT, valid auth.ttl seconds)',
    tag: 'Auth',
    auth: false,
    body: loginBody,
    handle: async ({ req, deps }) => {
      const b = parseBody(loginBody, await readJson(req));
      return ok(await deps.auth.login(b.password));
    },
  },
  // Databases
  {
    method: 'GET',
    path: '/api/db',
    summary: 'List the source databases',
    tag: 'Database',
    auth: false,
    handle: async ({ deps }) => ({ list: (await deps.store.load()).dbs }),
  },
  {
    method: 'GET',
    path: '/api/db/{id}',
    summary: 'One source database',
    tag: 'Database',
    auth: false,
    handle: async ({ params, deps }) => {
      const id = parseId(params.id, 'database');
      return ok(await find((await deps.store.load()).dbs, id, 'database'));
    },
  },
  {
    method: 'POST',
    path: '/api/db',
    summary: 'Add a source database',
    tag: 'Database',
    auth: true,
    body: dbInput,
    example: { name: 'crm' },
    status: 201,
    handle: async ({ req, deps }) => {
      const row = await deps.store.createDb(parseBody(dbInput, await readJson(req)));
      return ok(row, 201);
    },
  },
  {
    method: 'PUT',
    path: '/api/db/{id}',
    summary: 'Rename a source database (its slots and publications get the new name)',
    tag: 'Database',
    auth: true,
    body: dbInput,
    example: { name: 'crm2' },
    handle: async ({ req, params, deps }) => {
      const id = parseId(params.id, 'database');
      const input = parseBody(dbInput, await readJson(req));
      await assertRunnable(deps, (m) => withDbName(m, id, input.name));
      const row = await deps.store.updateDb(id, input);
      void deps.apply(`database ${id} renamed`);
      return ok(row);
    },
  },
  {
    method: 'DELETE',
    path: '/api/db/{id}',
    summary: 'Remove a source database with its URLs and tables (slots are kept)',
    tag: 'Database',
    auth: true,
    handle: async ({ params, deps }) => {
      const id = parseId(params.id, 'database');
      await deps.store.deleteDb(id);
      void deps.apply(`database ${id} removed`);
      return ok({ id });
    },
  },
  // URLs
  {
    method: 'GET',
    path: '/api/url',
    summary: 'List the source URLs (passwords shown as ***)',
    tag: 'URL',
    auth: false,
    handle: async ({ deps }) => ({ list: (await deps.store.load()).urls.map(shown) }),
  },
  {
    method: 'GET',
    path: '/api/url/{id}',
    summary: 'One source URL (password shown as ***)',
    tag: 'URL',
    auth: false,
    handle: async ({ params, deps }) => {
      const id = parseId(params.id, 'url');
      return ok(shown(await find((await deps.store.load()).urls, id, 'url')));
    },
  },
  {
    method: 'POST',
    path: '/api/url',
    summary: 'Add a source server to a database: it starts (publication, slot, copy, stream)',
    tag: 'URL',
    auth: true,
    body: urlInput,
    example: { db_id: 1, url: 'postgres://kuvasz:secret@db.example.com:5432/crm', sid: 'eu' },
    status: 201,
    handle: async ({ req, deps }) => {
      const input = parseBody(urlInput, await readJson(req));
      await assertRunnable(deps, (m) => withUrl(m, 0, input));
      const row = await deps.store.createUrl(input);
      void deps.apply(`source ${row.db_name} (sid ${row.sid}) added`);
      return ok(shown(row), 201);
    },
  },
  {
    method: 'PUT',
    path: '/api/url/{id}',
    summary: 'Change a source URL (a password of *** keeps the stored one)',
    tag: 'URL',
    auth: true,
    body: urlInput,
    example: { db_id: 1, url: 'postgres://kuvasz:***@db2.example.com:5432/crm', sid: 'eu' },
    handle: async ({ req, params, deps }) => {
      const id = parseId(params.id, 'url');
      const input = parseBody(urlInput, await readJson(req));
      const before = await find((await deps.store.load()).urls, id, 'url');
      const next = { ...input, url: keepPassword(input.url, before.url) };
      await assertRunnable(deps, (m) => withUrl(m, id, next));
      const row = await deps.store.updateUrl(id, next);
      void deps.apply(`source ${row.db_name} (sid ${row.sid}) changed`);
      return ok(shown(row));
    },
  },
  {
    method: 'DELETE',
    path: '/api/url/{id}',
    summary:
      'Remove a source server: it stops; with ?drop_slot=true its slot and publication are dropped',
    tag: 'URL',
    auth: true,
    query: { drop_slot: 'true: drop the source’s replication slot and publication too' },
    handle: async ({ params, query, deps }) => {
      const id = parseId(params.id, 'url');
      const row = await deps.store.deleteUrl(id);
      const applied = deps.apply(`source ${row.db_name} (sid ${row.sid}) removed`);
      if (query.get('drop_slot') === 'true') {
        // Only once its runner is gone: a running one would create the slot again.
        await applied;
        await deps.dropSlot(row);
      }
      return ok(shown(row));
    },
  },
  {
    method: 'POST',
    path: '/api/url/restart',
    summary: 'Restart every source with the current map',
    tag: 'URL',
    auth: true,
    handle: async ({ deps }) => {
      void deps.apply('restart requested');
      return ok({ restarted: true });
    },
  },
  // Tables
  {
    method: 'GET',
    path: '/api/tbl',
    summary: 'List the replicated tables',
    tag: 'Table',
    auth: false,
    handle: async ({ deps }) => ({ list: (await deps.store.load()).tbls }),
  },
  {
    method: 'GET',
    path: '/api/tbl/{id}',
    summary: 'One replicated table',
    tag: 'Table',
    auth: false,
    handle: async ({ params, deps }) => {
      const id = parseId(params.id, 'table');
      return ok(await find((await deps.store.load()).tbls, id, 'table'));
    },
  },
  {
    method: 'POST',
    path: '/api/tbl',
    summary: 'Replicate a table: it is published, copied in a fresh snapshot, then streamed',
    tag: 'Table',
    auth: true,
    body: tblInput,
    example: { db_id: 1, schema: 'public', name: 'customers', type: 'clone' },
    status: 201,
    handle: async ({ req, deps }) => {
      const input = parseBody(tblInput, await readJson(req));
      await assertRunnable(deps, (m) => withTbl(m, 0, input));
      const row = await deps.store.createTbl(input);
      void deps.apply(`table ${row.schema}.${row.name} of ${row.db_name} added`);
      return ok(row, 201);
    },
  },
  {
    method: 'PUT',
    path: '/api/tbl/{id}',
    summary: 'Change how a table is replicated',
    tag: 'Table',
    auth: true,
    body: tblInput,
    example: { db_id: 1, schema: 'public', name: 'customers', type: 'append' },
    handle: async ({ req, params, deps }) => {
      const id = parseId(params.id, 'table');
      const input = parseBody(tblInput, await readJson(req));
      await assertRunnable(deps, (m) => withTbl(m, id, input));
      const row = await deps.store.updateTbl(id, input);
      void deps.apply(`table ${row.schema}.${row.name} of ${row.db_name} changed`);
      return ok(row);
    },
  },
  {
    method: 'DELETE',
    path: '/api/tbl/{id}',
    summary: 'Stop replicating a table: it leaves the publication, its target stays',
    tag: 'Table',
    auth: true,
    handle: async ({ params, deps }) => {
      const id = parseId(params.id, 'table');
      const row = await deps.store.deleteTbl(id);
      void deps.apply(`table ${row.schema}.${row.name} of ${row.db_name} removed`);
      return ok(row);
    },
  },
  {
    method: 'POST',
    path: '/api/tbl/{id}/resync',
    summary: 'Copy a table again from its sources (in a fresh snapshot), then stream on',
    tag: 'Table',
    auth: true,
    status: 202,
    handle: async ({ params, deps }) => {
      const id = parseId(params.id, 'table');
      const row = await find((await deps.store.load()).tbls, id, 'table');
      await deps.resync(row);
      return ok({ id, resync: true }, 202);
    },
  },
  // The map: every table of the source databases
  {
    method: 'GET',
    path: '/api/map',
    summary: 'Every table found in the configured source databases, with its replication state',
    tag: 'Map',
    auth: false,
    handle: async ({ deps }) => ({ list: await deps.catalog.list() }),
  },
  {
    method: 'GET',
    path: '/api/map/{id}',
    summary: 'One table of the source databases',
    tag: 'Map',
    auth: false,
    handle: async ({ params, deps }) => ok(await deps.catalog.get(parseId(params.id, 'map entry'))),
  },
  {
    method: 'POST',
    path: '/api/map/refresh',
    summary: 'Read the source and destination catalogs again',
    tag: 'Map',
    auth: true,
    handle: async ({ deps }) => {
      await deps.catalog.refresh();
      return ok({
        entries: (await deps.catalog.list()).length,
        unreachable: deps.catalog.unreachable,
      });
    },
  },
  {
    method: 'POST',
    path: '/api/map/{id}/create',
    summary: 'Create the target table of a map entry (400 when it exists)',
    tag: 'Map',
    auth: true,
    query: {
      type: 'clone (default), append or history',
      target: 'target table name (default: the source table name)',
    },
    status: 201,
    handle: async ({ params, query, deps }) => {
      const entry = await deps.catalog.get(parseId(params.id, 'map entry'));
      if (entry.present) throw badRequest(`target ${entry.target} already exists`);
      const type = typeParam(query);
      await deps.createTarget(entry, type, query.get('target') || entry.target);
      await deps.catalog.refresh();
      return ok(await deps.catalog.get(entry.id), 201);
    },
  },
  {
    method: 'POST',
    path: '/api/map/{id}/clone',
    summary: 'Replicate a map entry (its target is created when missing)',
    tag: 'Map',
    auth: true,
    query: {
      type: 'clone (default), append or history',
      target: 'target table name (default: the source table name)',
      partitions_regex:
        'leaf partitions whose changes go to this table (needed for partitioned tables)',
    },
    status: 201,
    handle: async ({ params, query, deps }) => {
      const entry = await deps.catalog.get(parseId(params.id, 'map entry'));
      if (entry.replicated)
        throw new ApiError(409, 'conflict', `${entry.schema}.${entry.name} is already replicated`);
      const type = typeParam(query);
      const target = query.get('target') || entry.name;
      const regex = query.get('partitions_regex') || null;
      if (entry.partitions && entry.partitions.length > 0 && !regex)
        throw badRequest(`${entry.schema}.${entry.name} is partitioned: give partitions_regex`);
      if (!entry.present) await deps.createTarget(entry, type, target);
      const input = parseBody(tblInput, {
        db_id: entry.db_id,
        schema: entry.schema,
        name: entry.name,
        type,
        target: target === entry.name ? null : target,
        partitions_regex: regex,
      });
      await assertRunnable(deps, (m) => withTbl(m, 0, input));
      const row = await deps.store.createTbl(input);
      void deps.apply(`table ${row.schema}.${row.name} of ${row.db_name} added`);
      await deps.catalog.refresh();
      return ok(row, 201);
    },
  },
];

function typeParam(query: URLSearchParams): TableType {
  const t = query.get('type') || 'clone';
  if (!(TABLE_TYPES as readonly string[]).includes(t))
    throw badRequest(`type must be clone, append or history (got '${t}')`);
  return t as TableType;
}

/** Matches `/api/db/{id}` against `/api/db/7`. */
function match(pattern: string, path: string): Record<string, string> | undefined {
  const a = pattern.split('/');
  const b = path.split('/');
  if (a.length !== b.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    const p = a[i]!;
    if (p.startsWith('{')) params[p.slice(1, -1)] = decodeURIComponent(b[i]!);
    else if (p !== b[i]) return undefined;
  }
  return params;
}

function corsHeaders(
  cors: CorsSettings | undefined,
  origin: string | undefined,
): Record<string, string> {
  if (!cors || !origin) return {};
  const any = cors.allowedOrigins.includes('*');
  if (!any && !cors.allowedOrigins.includes(origin)) return {};
  return {
    'access-control-allow-origin': any && !cors.allowCredentials ? '*' : origin,
    'access-control-allow-methods': cors.allowMethods.join(','),
    'access-control-allow-headers': cors.allowHeaders.join(','),
    'access-control-max-age': String(cors.maxAgeSeconds),
    ...(cors.allowCredentials ? { 'access-control-allow-credentials': 'true' } : {}),
    vary: 'Origin',
  };
}

/**
 * Handles `/api/...` routes of the admin API and the page (`/`, `/ui/...`); false when the path is not
 * one of them (the HTTP server then answers it or 404s).
 */
export async function handleAdmin(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  deps: AdminDeps,
  openapi: () => unknown,
): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (serveWebPage(req, res, path, deps.store.mode)) return true;
  const cors = corsHeaders(deps.cors, req.headers.origin);
  for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
  if (req.method === 'OPTIONS' && path.startsWith('/api/')) {
    res.writeHead(204);
    res.end();
    return true;
  }
  if (req.method === 'GET' && path === '/api/openapi.json') {
    sendJson(res, 200, openapi());
    return true;
  }
  let methodMismatch = false;
  for (const route of ROUTES) {
    const params = match(route.path, path);
    if (!params) continue;
    if (route.method !== req.method) {
      methodMismatch = true;
      continue;
    }
    try {
      if (route.auth) await deps.auth.check(req);
      const reply = await route.handle({ req, params, query: url.searchParams, deps });
      // The map's replicated / present flags follow the change (map routes refresh it themselves).
      if (route.method !== 'GET' && !route.path.startsWith('/api/map')) deps.catalog.invalidate();
      if ('list' in reply) sendList(res, reply.list);
      else sendJson(res, reply.status, reply.body);
    } catch (e) {
      const err =
        e instanceof ApiError
          ? e
          : new ApiError(
              500,
              'system_error',
              'internal error',
              redactPasswords((e as Error).message ?? String(e)),
            );
      sendJson(res, err.status, err.body());
    }
    return true;
  }
  if (methodMismatch) {
    sendJson(
      res,
      405,
      new ApiError(405, 'method_not_allowed', `${req.method} is not allowed on ${path}`).body(),
    );
    return true;
  }
  return false;
}
