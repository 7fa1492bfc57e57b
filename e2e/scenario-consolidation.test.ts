/**
 * Scenario 1, microservice consolidation: two services' databases with
 * different schemas (PG 14 and PG 17) into one warehouse schema. Only the
 * configured tables and the target's columns arrive, targets are renamed, and
 * `billing.invoices` stays apart from `public.invoices` of the same database.
 */
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres } from '@kuvasz/testkit';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { assertNoLeftovers, type Db, waitForSame } from './checks.js';
import { runCli } from './cli.js';
import { assertNoSecrets, killAll, startRun, tempDir, writeConfig } from './harness.js';

const ORDERS_DDL = `
CREATE SCHEMA billing;
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, total numeric(12,2) NOT NULL,
                     internal_note text, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE order_lines (order_id bigint, line int, sku text NOT NULL, qty int NOT NULL,
                          PRIMARY KEY (order_id, line));
CREATE TABLE billing.invoices (id int PRIMARY KEY, order_id bigint, amount numeric(12,2), paid boolean NOT NULL DEFAULT false);
CREATE TABLE public.invoices (id int PRIMARY KEY, label text NOT NULL);
CREATE TABLE audit_log (id serial PRIMARY KEY, what text);
INSERT INTO orders (id, customer_id, total, internal_note) SELECT g, g % 50, g * 1.5, 'secret ' || g FROM generate_series(1, 500) g;
INSERT INTO order_lines SELECT o, l, 'sku-' || l, l FROM generate_series(1, 500) o, generate_series(1, 3) l;
INSERT INTO billing.invoices SELECT g, g, g * 1.5, g % 2 = 0 FROM generate_series(1, 200) g;
INSERT INTO public.invoices SELECT g, 'label ' || g FROM generate_series(1, 50) g;
INSERT INTO audit_log (what) SELECT 'seed' FROM generate_series(1, 10);
`;

const CRM_DDL = `
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, password_hash text NOT NULL);
CREATE TABLE "Contacts" (id int PRIMARY KEY, "customerId" int NOT NULL, "order" text);
INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com', md5(g::text) FROM generate_series(1, 50) g;
INSERT INTO "Contacts" SELECT g, g % 50, 'o' || g FROM generate_series(1, 100) g;
`;

// Targets hold a subset of the source's columns; only the multi-table CRM ones carry a sid.
const WAREHOUSE_DDL = `
CREATE SCHEMA services;
CREATE TABLE services.orders (id bigint PRIMARY KEY, customer_id int NOT NULL, total numeric(12,2));
CREATE TABLE services.lines (order_id bigint, line int, sku text, qty int, PRIMARY KEY (order_id, line));
CREATE TABLE services.invoices (id int PRIMARY KEY, amount numeric(12,2), paid boolean);
CREATE TABLE services.invoice_labels (id int PRIMARY KEY, label text);
CREATE TABLE services.crm_customers (sid text NOT NULL, id int NOT NULL, name text, email text, PRIMARY KEY (sid, id));
CREATE TABLE services."Crm Contacts" (sid text NOT NULL, id int NOT NULL, "customerId" int, "order" text, PRIMARY KEY (sid, id));
`;

let ordersPg: PgCluster;
let crmPg: PgCluster;
let dwhPg: PgCluster;
let orders: Db;
let crm: Db;
let dwh: Db;
let config: string;

beforeAll(async () => {
  [ordersPg, crmPg, dwhPg] = await Promise.all([
    startPostgres({ version: 14 }),
    startPostgres({ version: 17 }),
    startPostgres({ version: 17 }),
  ]);
  orders = { cluster: ordersPg, db: await ordersPg.createDatabase('orders') };
  crm = { cluster: crmPg, db: await crmPg.createDatabase('crm') };
  dwh = { cluster: dwhPg, db: await dwhPg.createDatabase('warehouse') };
  await ordersPg.sql(ORDERS_DDL, [], orders.db);
  await crmPg.sql(CRM_DDL, [], crm.db);
  await dwhPg.sql(WAREHOUSE_DDL, [], dwh.db);
  config = writeConfig(
    tempDir(),
    'consolidation.yaml',
    `destination:
  url: ${dwhPg.urlFor(dwh.db)}
  schema: services
databases:
  - database: orders
    urls: [{ url: "${ordersPg.urlFor(orders.db)}", sid: orders }]
    tables:
      orders:
      order_lines: { target: lines }
      billing.invoices: { target: invoices }
      public.invoices: { target: invoice_labels }
  - database: crm
    urls: [{ url: "${crmPg.urlFor(crm.db)}", sid: crm }]
    tables:
      customers: { target: crm_customers }
      Contacts: { target: '"Crm Contacts"' }
apply: { workers: 2, flush_interval_ms: 100 }
`,
  );
});

afterAll(async () => {
  await killAll();
  await Promise.all([ordersPg, crmPg, dwhPg].map((c) => c?.stop()));
});

/** Every target equals the projection of its source on the target's columns. */
async function expectConsolidated(): Promise<void> {
  await waitForSame(
    orders,
    'SELECT id, customer_id, total FROM orders',
    dwh,
    'SELECT id, customer_id, total FROM services.orders',
    { message: 'orders' },
  );
  await waitForSame(orders, 'SELECT * FROM order_lines', dwh, 'SELECT * FROM services.lines', {
    message: 'order_lines -> lines',
  });
  await waitForSame(
    orders,
    'SELECT id, amount, paid FROM billing.invoices',
    dwh,
    'SELECT id, amount, paid FROM services.invoices',
    { message: 'billing.invoices -> invoices' },
  );
  await waitForSame(
    orders,
    'SELECT id, label FROM public.invoices',
    dwh,
    'SELECT id, label FROM services.invoice_labels',
    { message: 'public.invoices -> invoice_labels' },
  );
  await waitForSame(
    crm,
    'SELECT id, name, email FROM customers',
    dwh,
    "SELECT id, name, email FROM services.crm_customers WHERE sid = 'crm'",
    { message: 'customers -> crm_customers' },
  );
  await waitForSame(
    crm,
    'SELECT id, "customerId", "order" FROM "Contacts"',
    dwh,
    `SELECT id, "customerId", "order" FROM services."Crm Contacts" WHERE sid = 'crm'`,
    { message: '"Contacts" -> "Crm Contacts"' },
  );
}

test('two services into one warehouse: configured tables and columns only, renamed, schemas kept apart', async () => {
  expect(runCli(['validate', '-c', config]).status).toBe(0);
  const cli = startRun(config);
  try {
    await cli.waitForLogCount('streaming', 2);
    await expectConsolidated();

    // Each publication holds exactly the configured tables: audit_log is not published.
    const published = await ordersPg.sql<{ t: string }>(
      "SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = 'kuvasz_orders_orders' ORDER BY 1",
      [],
      orders.db,
    );
    expect(published.map((r) => r.t)).toEqual([
      'billing.invoices',
      'public.invoices',
      'public.order_lines',
      'public.orders',
    ]);

    await ordersPg.sql(
      `INSERT INTO orders (id, customer_id, total, internal_note) VALUES (1001, 7, 99.99, 'not for the warehouse');
       UPDATE orders SET total = total + 1 WHERE id <= 10;
       UPDATE orders SET internal_note = 'only a column the warehouse does not have' WHERE id = 20;
       DELETE FROM orders WHERE id BETWEEN 400 AND 450;
       UPDATE order_lines SET line = line + 10 WHERE order_id = 3;
       DELETE FROM order_lines WHERE order_id BETWEEN 400 AND 450;
       INSERT INTO order_lines VALUES (1001, 1, 'sku-new', 5);
       UPDATE billing.invoices SET paid = true, amount = amount * 2 WHERE id <= 20;
       DELETE FROM billing.invoices WHERE id = 30;
       INSERT INTO billing.invoices VALUES (1001, 1001, 99.99, false);
       UPDATE public.invoices SET label = 'public ' || id WHERE id <= 20;
       INSERT INTO public.invoices VALUES (1001, 'same id, other table');
       INSERT INTO audit_log (what) SELECT 'not configured' FROM generate_series(1, 100);`,
      [],
      orders.db,
    );
    await crmPg.sql(
      `UPDATE customers SET email = NULL, password_hash = 'x' WHERE id <= 5;
       DELETE FROM customers WHERE id = 50;
       INSERT INTO customers VALUES (51, 'new customer', 'n@example.com', 'hash');
       UPDATE "Contacts" SET "order" = 'changed' WHERE id <= 10;
       UPDATE "Contacts" SET id = id + 1000 WHERE id = 11;
       DELETE FROM "Contacts" WHERE id = 12;`,
      [],
      crm.db,
    );
    await expectConsolidated();

    // billing.invoices and public.invoices share ids but not targets.
    expect(
      await dwhPg.sql(
        'SELECT amount::text, paid FROM services.invoices WHERE id = 1001',
        [],
        dwh.db,
      ),
    ).toEqual([{ amount: '99.99', paid: false }]);
    expect(
      await dwhPg.sql('SELECT label FROM services.invoice_labels WHERE id = 1001', [], dwh.db),
    ).toEqual([{ label: 'same id, other table' }]);
    // Nothing else arrived: only the six targets (and the streamer's own schema), no extra column.
    const tables = await dwhPg.sql<{ t: string }>(
      "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'kuvasz') ORDER BY 1",
      [],
      dwh.db,
    );
    expect(tables.map((r) => r.t)).toEqual([
      'services.Crm Contacts',
      'services.crm_customers',
      'services.invoice_labels',
      'services.invoices',
      'services.lines',
      'services.orders',
    ]);
    expect(
      await dwhPg.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'services' AND table_name = 'orders' ORDER BY ordinal_position",
        [],
        dwh.db,
      ),
    ).toEqual([{ column_name: 'id' }, { column_name: 'customer_id' }, { column_name: 'total' }]);
  } finally {
    const res = await cli.stop('SIGTERM');
    expect(res.code, cli.stderr.slice(-2000)).toBe(0);
    assertNoSecrets(cli.output, [ordersPg, crmPg, dwhPg]);
  }
  const down = runCli(['teardown', '-c', config, '--yes']);
  expect(down.status, down.stdout + down.stderr).toBe(0);
  expect(down.stdout).toMatch(
    /slot kuvasz_orders_orders dropped, publication kuvasz_orders_orders dropped/,
  );
  expect(down.stdout).toMatch(/slot kuvasz_crm_crm dropped/);
  assertNoSecrets(down.stdout + down.stderr, [ordersPg, crmPg, dwhPg]);
  await assertNoLeftovers([ordersPg, crmPg, dwhPg]);
});
