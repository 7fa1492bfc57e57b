/**
 * The admin API against real servers: the original's routes, bodies, status
 * codes and error body; passwords never answered; authentication on every
 * change; the map read from the source catalogs; targets created; the
 * declarative (file) map read-only; CORS as configured; the OpenAPI
 * document and the handlers agree.
 */
import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { ROUTES } from '../src/admin/admin-api.js';
import { DestinationMapStore } from '../src/admin/map-store.js';
import { declarativeStore, type Json, sourceAndDestination, startApi } from './admin-server.js';

describe.each(testedVersions())('admin API on PG %i', (version) => {
  const pgc = useCluster({ version });

  const setup = () =>
    sourceAndDestination(
      pgc.get(),
      `CREATE TABLE events (id int, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
       CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`,
    );

  test('databases, URLs and tables: codes, bodies, passwords, authentication', async () => {
    const { c, src, dst } = await setup();
    const api = await startApi(c.urlFor(dst), (p) => new DestinationMapStore(p, 'kuvasz'));
    const auth = { authorization: `Bearer ${await api.token()}` };

    // Changes need a token; reads do not.
    const anon = await api.call('POST', '/api/db', { name: 'crm' });
    expect(anon.status).toBe(401);
    expect(anon.body).toMatchObject({ code: 'unauthorized' });
    expect((await api.call('POST', '/api/login', { password: 'nope' })).status).toBe(401);
    expect(
      (
        await api.call(
          'POST',
          '/api/db',
          { name: 'crm' },
          { authorization: 'Bearer forged.token.x' },
        )
      ).status,
    ).toBe(401);

    const db = await api.call('POST', '/api/db', { name: 'crm' }, auth);
    expect(db).toMatchObject({ status: 201, body: { id: 1, name: 'crm' } });
    expect((await api.call('POST', '/api/db', { name: 'crm' }, auth)).status).toBe(409);
    const list = await api.call('GET', '/api/db');
    expect(list.body).toEqual([{ id: 1, name: 'crm' }]);
    expect(list.headers.get('x-total-count')).toBe('1');
    expect(await api.call('GET', '/api/db/99')).toMatchObject({
      status: 404,
      body: { code: 'not_found', error: 'database 99 not found' },
    });
    expect(await api.call('GET', '/api/db/x')).toMatchObject({
      status: 400,
      body: { code: 'invalid_request', error: "invalid database id 'x'" },
    });
    const bad = await api.call('POST', '/api/db', { nom: 'x' }, auth);
    expect(bad.status).toBe(400);
    expect(bad.body.info).toContain('name');
    expect((await api.call('POST', '/api/db', '{not json', auth)).status).toBe(400);

    // A URL's password is never answered; a PUT of what GET showed keeps it.
    const srcUrl = c.urlFor(src);
    const password = new URL(srcUrl).password;
    const url = await api.call('POST', '/api/url', { db_id: 1, url: srcUrl, sid: 'eu' }, auth);
    expect(url.status).toBe(201);
    expect(JSON.stringify(url.body)).not.toContain(password);
    expect(url.body.url).toContain(':***@');
    const shown = (await api.call('GET', '/api/url/1')).body;
    expect(
      (await api.call('PUT', '/api/url/1', { db_id: 1, url: shown.url, sid: 'eu' }, auth)).status,
    ).toBe(200);
    const stored = await c.sql<{ url: string }>('SELECT url FROM kuvasz.map_url', [], dst);
    expect(stored[0]?.url).toContain(password);
    expect(JSON.stringify((await api.call('GET', '/api/url')).body)).not.toContain(password);
    expect(
      (await api.call('POST', '/api/url', { db_id: 7, url: srcUrl, sid: 'x' }, auth)).body,
    ).toMatchObject({ code: 'invalid_request', error: 'database 7 does not exist' });

    // The map: every source table, then create a target and replicate a table.
    const map = (await api.call('GET', '/api/map')).body as Json[];
    expect(map.map((m) => `${m.schema}.${m.name}:${m.replicated}:${m.present}`)).toEqual([
      'public.customers:false:false',
      'public.events:false:false',
      'public.orders:false:false',
    ]);
    const customers = map[0];
    expect(customers.source_columns.id).toEqual({
      column_type: 'integer',
      data_type_oid: 23,
      primary_key: true,
    });
    expect(map[1].partitions).toEqual(['events_2024']);
    const created = await api.call('POST', `/api/map/${customers.id}/create`, undefined, auth);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ present: true, replicated: false });
    expect(created.body.target_columns.name.column_type).toBe('text');
    expect(
      (await api.call('POST', `/api/map/${customers.id}/create`, undefined, auth)).status,
    ).toBe(400);
    // A partitioned table needs partitions_regex.
    expect((await api.call('POST', `/api/map/${map[1].id}/clone`, undefined, auth)).status).toBe(
      400,
    );
    const cloned = await api.call(
      'POST',
      `/api/map/${map[2].id}/clone?type=history&target=orders_h`,
      undefined,
      auth,
    );
    expect(cloned).toMatchObject({
      status: 201,
      body: {
        db_name: 'crm',
        schema: 'public',
        name: 'orders',
        type: 'history',
        target: 'orders_h',
      },
    });
    const cols = await c.sql<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'orders_h' ORDER BY ordinal_position`,
      [],
      dst,
    );
    expect(cols.map((r) => r.column_name)).toContain('kvsz_deleted');
    expect(api.applied).toContain('table public.orders of crm added');
    expect((await api.call('GET', '/api/tbl')).body).toHaveLength(1);
    expect((await api.call('DELETE', `/api/tbl/${cloned.body.id}`, undefined, auth)).status).toBe(
      200,
    );
    expect((await api.call('DELETE', `/api/tbl/${cloned.body.id}`, undefined, auth)).status).toBe(
      404,
    );
    expect(api.applied.at(-1)).toBe('table public.orders of crm removed');
    expect((await api.call('PATCH', '/api/db/1', {}, auth)).status).toBe(405);
  });

  test('a change after which the map could not run is refused, and nothing is stored', async () => {
    const { c, src, dst } = await setup();
    const api = await startApi(c.urlFor(dst), (p) => new DestinationMapStore(p, 'kuvasz'));
    const auth = { authorization: `Bearer ${await api.token()}` };
    expect((await api.call('POST', '/api/db', { name: 'crm' }, auth)).status).toBe(201);
    expect(
      (await api.call('POST', '/api/url', { db_id: 1, url: c.urlFor(src), sid: 'eu' }, auth))
        .status,
    ).toBe(201);
    // A filter that does not parse would make the next start refuse the whole map.
    const bad = await api.call(
      'POST',
      '/api/tbl',
      { db_id: 1, name: 'customers', filter: 'status ==' },
      auth,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.info).toContain('filter "status ==": Unexpected token: EOF');
    // EU and eu make the same slot name, kuvasz_crm_eu.
    expect((await api.call('POST', '/api/tbl', { db_id: 1, name: 'customers' }, auth)).status).toBe(
      201,
    );
    const clash = await api.call(
      'POST',
      '/api/url',
      { db_id: 1, url: c.urlFor(src), sid: 'EU' },
      auth,
    );
    expect(clash.status).toBe(400);
    expect(clash.body.info).toContain('slot and publication name kuvasz_crm_eu');
    expect(clash.body.info).not.toContain(new URL(c.urlFor(src)).password);
    const stored = await c.sql<{ n: number }>(
      'SELECT (SELECT count(*) FROM kuvasz.map_url)::int + (SELECT count(*) FROM kuvasz.map_tbl)::int AS n',
      [],
      dst,
    );
    expect(stored[0]?.n).toBe(2);
  });

  test('the declarative map is read-only; CORS as configured', async () => {
    const { c, src, dst } = await setup();
    const api = await startApi(c.urlFor(dst), declarativeStore(c.urlFor(dst), c.urlFor(src)), {
      cors: {
        allowedOrigins: ['http://ui.example'],
        allowMethods: ['GET', 'POST'],
        allowHeaders: ['Authorization', 'Content-Type'],
        allowCredentials: true,
        maxAgeSeconds: 600,
      },
    });
    expect((await api.call('GET', '/api/tbl')).body).toEqual([
      {
        id: 1,
        db_id: 1,
        db_name: 'crm',
        schema: 'public',
        name: 'customers',
        type: 'append',
        target: 'customers',
        partitions_regex: null,
        filter: null,
        set: null,
      },
    ]);
    const refused = await api.call(
      'POST',
      '/api/db',
      { name: 'x' },
      { authorization: `Bearer ${await api.token()}` },
    );
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('read_only');
    expect(refused.body.error).toContain('streamer.yaml');

    const pre = await fetch(`${api.url}/api/db`, {
      method: 'OPTIONS',
      headers: { origin: 'http://ui.example', 'access-control-request-method': 'POST' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://ui.example');
    expect(pre.headers.get('access-control-allow-credentials')).toBe('true');
    const other = await fetch(`${api.url}/api/db`, { headers: { origin: 'http://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('the OpenAPI document lists exactly the routes, and its examples are accepted', async () => {
    const { c, dst } = await setup();
    const api = await startApi(c.urlFor(dst), (p) => new DestinationMapStore(p, 'kuvasz'));
    const doc = (await api.call('GET', '/api/openapi.json')).body;
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(documented).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    const auth = { authorization: `Bearer ${await api.token()}` };
    // Every documented example body, sent as documented, gets the documented success.
    for (const r of ROUTES.filter((x) => x.example !== undefined)) {
      const op = doc.paths[r.path][r.method.toLowerCase()];
      const example = op.requestBody.content['application/json'].example;
      const res = await api.call(r.method, r.path.replace('{id}', '1'), example, auth);
      expect(res.status, `${r.method} ${r.path}: ${JSON.stringify(res.body)}`).toBe(
        r.status ?? 200,
      );
      expect(Object.keys(op.responses)).toContain(String(r.status ?? 200));
    }
  });
});
