import { expect, test } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';

const good = `
destination:
  url: postgres://user:\${DEST_PASSWORD}@dwh:5432/warehouse
databases:
  - database: orders
    urls:
      - { url: "postgres://repl@tenant1-db/orders", sid: tenant1 }
      - { url: "postgres://repl@tenant2-db/orders", sid: 2 }
    tables:
      customers:
      order_lines: { target: lines }
      events: { type: append }
      prices: { type: history }
      measurements: { partitions_regex: "measurements_.*" }
      billing.invoices: { target: invoices }
apply:   { workers: 4, batch_rows: 10000, flush_interval_ms: 200 }
sync:    { parallel_tables: 2 }
http:    { listen: "127.0.0.1:8080" }
log:     { level: info, format: json }
`;

test('the issue example parses, with env expansion and defaults', () => {
  const c = parseConfig(good, 'c.yaml', { env: { DEST_PASSWORD: 's3cret-pw' } });
  expect(c.destination).toEqual({
    url: 'postgres://user:s3cret-pw@dwh:5432/warehouse',
    schema: 'public',
    metadataSchema: 'kuvasz',
  });
  expect(c.sources.map((s) => [s.database, s.sid])).toEqual([
    ['orders', 'tenant1'],
    ['orders', '2'],
  ]);
  const t = c.sources[0]?.tables ?? [];
  expect(
    t.map((x) => [
      x.key,
      `${x.source.schema}.${x.source.table}`,
      `${x.target.schema}.${x.target.table}`,
      x.type,
    ]),
  ).toEqual([
    ['customers', 'public.customers', 'public.customers', 'clone'],
    ['order_lines', 'public.order_lines', 'public.lines', 'clone'],
    ['events', 'public.events', 'public.events', 'append'],
    ['prices', 'public.prices', 'public.prices', 'history'],
    ['measurements', 'public.measurements', 'public.measurements', 'clone'],
    ['billing.invoices', 'billing.invoices', 'public.invoices', 'clone'],
  ]);
  expect(t[4]?.partitionsRegex?.test('measurements_2024')).toBe(true);
  expect(c.http).toEqual({ host: '127.0.0.1', port: 8080 });
  expect(c.secrets).toContain('s3cret-pw');
});

function issuesOf(text: string, env: NodeJS.ProcessEnv = {}, destination?: string): string[] {
  try {
    parseConfig(text, 'bad.yaml', { env, destination });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected a ConfigError');
}

test.each([
  [
    'unknown key',
    'destination: { url: x, colour: red }\ndatabases: [{ database: d, urls: [{url: u, sid: 1}], tables: {t: } }]',
    /destination \(line 1\): unknown key "colour"/,
  ],
  [
    'bad type',
    'destination: { url: x }\ndatabases: [{ database: d, urls: [{url: u, sid: 1}], tables: {t: {type: mirror}} }]',
    /databases\[0\]\.tables\.t\.type \(line 2\): expected one of "clone", "append", "history"/,
  ],
  [
    'duplicate sid',
    'destination: { url: x }\ndatabases:\n  - database: d\n    urls: [{url: u, sid: 1}, {url: v, sid: "1"}]\n    tables: {t: }',
    /databases\[0\]\.urls\[1\]\.sid \(line 4\): duplicate sid "1"/,
  ],
  [
    'missing env var',
    'destination: { url: "postgres://u:${NOPE}@h/d" }\ndatabases: [{ database: d, urls: [{url: u, sid: 1}], tables: {t: } }]',
    /destination\.url \(line 1\): environment variable NOPE is not set/,
  ],
  [
    'wrong type',
    'destination: { url: x }\napply: { workers: many }\ndatabases: [{ database: d, urls: [{url: u, sid: 1}], tables: {t: } }]',
    /apply\.workers \(line 2\): expected number, received string/,
  ],
  ['bad yaml', 'destination: { url: x\n', /line \d+, column \d+: YAML:/],
  [
    'no tables',
    'destination: { url: x }\ndatabases: [{ database: d, urls: [{url: u, sid: 1}], tables: {} }]',
    /tables \(line 2\): at least one table is needed/,
  ],
  [
    'bad listen',
    'destination: { url: x }\nhttp: { listen: "8080" }\ndatabases: [{ database: d, urls: [{url: u, sid: 1}], tables: {t: } }]',
    /http\.listen \(line 2\): expected host:port/,
  ],
  [
    'map file without destination',
    '- database: d\n  urls: [{url: u, sid: 1}]\n  tables: {t: }',
    /needs the destination: add --destination <url>/,
  ],
])('%s is reported with its path', (_name, text, expected) => {
  const issues = issuesOf(text);
  expect(issues.join('\n')).toMatch(expected);
});

test('a map file (bare list) works with --destination', () => {
  const c = parseConfig(
    '- database: d\n  urls: [{url: "postgres://u@h/d", sid: 7}]\n  tables: {\'"Public"."My.Table"\': {type: history}}',
    'map.yaml',
    {
      destination: 'postgres://dw@h/w',
    },
  );
  expect(c.destination.url).toBe('postgres://dw@h/w');
  expect(c.sources[0]?.tables[0]?.source).toEqual({ schema: 'Public', table: 'My.Table' });
});

test('a map file reports paths as written', () => {
  expect(
    issuesOf(
      '- database: d\n  urls: [{url: u, sid: 1}]\n  tables: {t: {tpye: clone}}',
      {},
      'postgres://x',
    ).join('\n'),
  ).toMatch(/\[0\]\.tables\.t \(line 3\): unknown key "tpye"/);
});

test('two sources whose slot names would collide are refused', () => {
  const text = `destination: { url: x }
databases:
  - database: Orders
    urls: [{ url: a, sid: "Tenant-1" }]
    tables: { t: }
  - database: orders
    urls: [{ url: b, sid: tenant_1 }]
    tables: { t: }
`;
  expect(issuesOf(text).join('\n')).toMatch(
    /databases\[1\]\.urls\[0\]\.sid \(line 7\): slot and publication name kuvasz_orders_tenant_1 is also the name of databases\[0\] sid "Tenant-1"/,
  );
});
