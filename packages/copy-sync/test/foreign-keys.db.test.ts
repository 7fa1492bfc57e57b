import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { CopySync } from '../src/index.js';
import { destPool, exportSnapshot, rowsAsText } from './helpers.js';

/**
 * Targets with the source's foreign keys (a schema from pg_dump, the upgrade
 * flow): a referencing table is copied only once what it references is in,
 * whatever order the configuration lists them in and however many tables
 * are copied at once; a table referencing itself is one COPY, even where
 * its rows reference rows on later pages.
 */
const SCHEMA = `
CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE invoices (id int PRIMARY KEY, account_id int NOT NULL REFERENCES accounts (id), amount int);
CREATE TABLE lines (invoice_id int NOT NULL REFERENCES invoices (id), line int, PRIMARY KEY (invoice_id, line));
CREATE TABLE tree (id int PRIMARY KEY, parent int REFERENCES tree (id), label text);`;

describe.each(testedVersions())('copies in foreign-key order on PG %i', (version) => {
  const pgc = useCluster({ version });

  it('children after their parents, a self-referencing table in one chunk', async () => {
    const c = pgc.get();
    const src = await c.createDatabase();
    const dst = await c.createDatabase();
    await c.sql(
      `${SCHEMA}
       INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 2000) g;
       INSERT INTO invoices SELECT g, 1 + g % 2000, g FROM generate_series(1, 20000) g;
       INSERT INTO lines SELECT i, l FROM generate_series(1, 20000) i, generate_series(1, 2) l;
       -- Roots first, then children; updating the roots moves them behind their children.
       INSERT INTO tree SELECT g, NULL, repeat('r', 40) FROM generate_series(1, 500) g;
       INSERT INTO tree SELECT g, 1 + g % 500, repeat('c', 40) FROM generate_series(501, 5000) g;
       UPDATE tree SET label = label || '!' WHERE parent IS NULL;`,
      [],
      src,
    );
    await c.sql(SCHEMA, [], dst);
    const snap = await exportSnapshot(c, src);
    const pool = destPool(c, dst);
    try {
      // Small chunks and four tables at once: without the order, a child chunk commits first.
      const sync = new CopySync({ destination: pool, chunkPages: 4, parallelTables: 4 });
      const spec = (table: string) => ({
        source: { schema: 'public', table },
        target: { schema: 'public', table },
        type: 'clone' as const,
      });
      const results = await sync.syncSource({
        source: { connectionString: c.urlFor(src), database: 'd', sid: '1' },
        snapshot: snap,
        tables: ['lines', 'tree', 'invoices', 'accounts'].map(spec),
      });
      expect(results.map((r) => r.rows)).toEqual([40000, 5000, 20000, 2000]);
      const states = await sync.state({ database: 'd', sid: '1' });
      expect(states.find((s) => s.table.table === 'tree')?.chunksTotal).toBe(1);
      expect(states.find((s) => s.table.table === 'lines')?.chunksTotal).toBeGreaterThan(1);
      for (const t of ['accounts', 'invoices', 'lines', 'tree']) {
        const q = `SELECT row(t.*)::text FROM ${t} t`;
        expect(await rowsAsText(c, dst, q), t).toEqual(await rowsAsText(c, src, q));
      }
    } finally {
      await snap.close();
      await pool.end();
    }
  });
});
