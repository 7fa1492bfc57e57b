/**
 * The demo's source schema: one table of each target type, the same on both
 * tenants (the multi-tenant use case).
 */
export const SOURCE_DDL = `
CREATE TABLE customers (
  id         bigint PRIMARY KEY,
  name       text NOT NULL,
  email      text,
  country    text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE events (
  id         bigserial PRIMARY KEY,
  customer   bigint NOT NULL,
  kind       text NOT NULL,
  payload    jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE prices (
  sku        text PRIMARY KEY,
  price      numeric(12,2) NOT NULL,
  currency   text NOT NULL DEFAULT 'EUR'
);
`;

export function seedSql(tenant: number): string {
  return `
INSERT INTO customers (id, name, email, country)
  SELECT g, 'customer ' || g, 'c' || g || '@tenant${tenant}.example', (ARRAY['HU','DE','FR','LB','US'])[1 + g % 5]
  FROM generate_series(1, 200) g;
INSERT INTO events (customer, kind, payload)
  SELECT 1 + g % 200, (ARRAY['login','order','refund'])[1 + g % 3], jsonb_build_object('n', g)
  FROM generate_series(1, 500) g;
INSERT INTO prices (sku, price)
  SELECT 'SKU-' || lpad(g::text, 3, '0'), (10 + g * 1.25)::numeric(12,2)
  FROM generate_series(1, 20) g;
`;
}

export const DEMO_TABLES = [
  { table: 'customers', type: 'clone' as const },
  { table: 'events', type: 'append' as const },
  { table: 'prices', type: 'history' as const },
];
