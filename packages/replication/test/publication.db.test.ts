import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { PublicationError } from '../src/errors.js';
import { relationMapper, syncPublication } from '../src/publication.js';
import { names, publicationMembers, uniqueName } from './helpers.js';

describe.each(testedVersions())('syncPublication on PostgreSQL %i', (version) => {
  const pgc = useCluster({ version });

  test('creates the publication with exactly the configured tables, quoting every name', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    await cluster.sql(
      `CREATE SCHEMA "Sales";
       CREATE TABLE "Sales"."order" (id int PRIMARY KEY);
       CREATE TABLE public."MixedCase" (id int PRIMARY KEY);
       CREATE TABLE public."select" (id int PRIMARY KEY);
       CREATE TABLE public."dotted.name" (id int PRIMARY KEY);
       CREATE TABLE public.unconfigured (id int PRIMARY KEY);`,
      [],
      db,
    );
    const pub = uniqueName('kuvasz_pub');
    const tables = [
      { schema: 'Sales', table: 'order' },
      { schema: 'public', table: 'MixedCase' },
      { schema: 'public', table: 'select' },
      { schema: 'public', table: 'dotted.name' },
    ];
    const url = cluster.urlFor(db);
    const first = await syncPublication(url, pub, tables);
    expect(first.created).toBe(true);
    expect(names(first.added)).toEqual(names(tables));
    expect(first.removed).toEqual([]);
    expect(first.viaPartitionRoot).toBe(true);
    expect(await publicationMembers(cluster, db, pub)).toEqual(
      ['Sales.order', 'public.MixedCase', 'public.dotted.name', 'public.select'].sort(),
    );
    const [opts] = await cluster.sql<Record<string, boolean>>(
      'SELECT pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot FROM pg_publication WHERE pubname = $1',
      [pub],
      db,
    );
    expect(opts).toEqual({
      pubinsert: true,
      pubupdate: true,
      pubdelete: true,
      pubtruncate: true,
      pubviaroot: true,
    });

    // The same configuration again changes nothing.
    const again = await syncPublication(url, pub, tables);
    expect(again).toMatchObject({ created: false, added: [], removed: [] });

    // Drop two, add one: exactly those.
    const next = [
      { schema: 'Sales', table: 'order' },
      { schema: 'public', table: 'select' },
      { schema: 'public', table: 'unconfigured' },
    ];
    const changed = await syncPublication(url, pub, next);
    expect(changed.created).toBe(false);
    expect(names(changed.added)).toEqual(['public.unconfigured']);
    expect(names(changed.removed)).toEqual(['public.MixedCase', 'public.dotted.name']);
    expect(await publicationMembers(cluster, db, pub)).toEqual(names(next));

    // An open client works as the target too, and an empty list empties it.
    const client = await cluster.connect(db);
    try {
      const emptied = await syncPublication(client, pub, []);
      expect(names(emptied.removed)).toEqual(names(next));
    } finally {
      await client.end();
    }
    expect(await publicationMembers(cluster, db, pub)).toEqual([]);
  });

  test('takes over a publication made by hand: extra tables, narrow publish, no partition root', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    await cluster.sql(
      `CREATE TABLE a (id int PRIMARY KEY, v text);
       CREATE TABLE b (id int PRIMARY KEY);
       CREATE TABLE c (id int PRIMARY KEY);`,
      [],
      db,
    );
    const pub = uniqueName('kuvasz_takeover');
    const filter = version >= 15 ? ' WHERE (id > 10)' : '';
    await cluster.sql(
      `CREATE PUBLICATION ${pub} FOR TABLE a${filter}, b WITH (publish = 'insert', publish_via_partition_root = false)`,
      [],
      db,
    );
    const result = await syncPublication(cluster.urlFor(db), pub, [
      { schema: 'public', table: 'a' },
      { schema: 'public', table: 'c' },
    ]);
    expect(result.created).toBe(false);
    expect(names(result.removed)).toEqual(['public.b']);
    // A row filter hid rows: the table comes back whole and must be synced again.
    expect(names(result.added)).toEqual(version >= 15 ? ['public.a', 'public.c'] : ['public.c']);
    expect(await publicationMembers(cluster, db, pub)).toEqual(['public.a', 'public.c']);
    const [opts] = await cluster.sql<Record<string, boolean>>(
      'SELECT pubinsert AND pubupdate AND pubdelete AND pubtruncate AS all_ops, pubviaroot FROM pg_publication WHERE pubname = $1',
      [pub],
      db,
    );
    expect(opts).toEqual({ all_ops: true, pubviaroot: true });
    if (version >= 15) {
      const [f] = await cluster.sql<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_publication_rel WHERE prqual IS NOT NULL',
        [],
        db,
      );
      expect(f?.n).toBe(0);
    }
  });

  test('a FOR ALL TABLES publication is refused with the fix', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    const pub = uniqueName('kuvasz_all');
    await cluster.sql(
      `CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION ${pub} FOR ALL TABLES`,
      [],
      db,
    );
    const err = await syncPublication(cluster.urlFor(db), pub, [
      { schema: 'public', table: 't' },
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublicationError);
    expect((err as PublicationError).message).toContain('FOR ALL TABLES');
    expect((err as PublicationError).message).toContain(`DROP PUBLICATION "${pub}"`);
  });

  test('a missing table is a typed error that suggests the right case, and nothing changes', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    await cluster.sql('CREATE TABLE "Customers" (id int PRIMARY KEY)', [], db);
    const pub = uniqueName('kuvasz_missing');
    const url = cluster.urlFor(db);
    const err = await syncPublication(url, pub, [{ schema: 'public', table: 'customers' }]).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PublicationError);
    expect((err as PublicationError).code).toBe('table_missing');
    expect((err as PublicationError).message).toContain('table public.customers does not exist');
    expect((err as PublicationError).message).toContain('did you mean public."Customers"');
    expect((err as PublicationError).message).not.toContain(cluster.password);
    const rows = await cluster.sql('SELECT 1 FROM pg_publication WHERE pubname = $1', [pub], db);
    expect(rows).toHaveLength(0);
  });

  test('a partitioned table is published as its root, partitions created later included', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    await cluster.sql(
      `CREATE TABLE m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
       CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`,
      [],
      db,
    );
    const pub = uniqueName('kuvasz_part');
    const result = await syncPublication(cluster.urlFor(db), pub, [
      { schema: 'public', table: 'm' },
    ]);
    expect(result.aliases).toEqual([]);
    expect(await publicationMembers(cluster, db, pub)).toEqual(['public.m']);
    await cluster.sql(
      "CREATE TABLE m_2025 PARTITION OF m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
      [],
      db,
    );
    const tables = await cluster.sql<{ t: string }>(
      'SELECT tablename AS t FROM pg_publication_tables WHERE pubname = $1',
      [pub],
      db,
    );
    // publish_via_partition_root: the catalog view reports the root only.
    expect(tables.map((r) => r.t)).toEqual(['m']);
  });

  test('partitions_regex publishes the matching tables and maps them to the configured one', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    await cluster.sql(
      `CREATE TABLE events_2024 (id int PRIMARY KEY);
       CREATE TABLE events_2025 (id int PRIMARY KEY);
       CREATE TABLE events_archive_old (id int PRIMARY KEY);
       CREATE TABLE other (id int PRIMARY KEY);`,
      [],
      db,
    );
    const pub = uniqueName('kuvasz_regex');
    const result = await syncPublication(cluster.urlFor(db), pub, [
      { schema: 'public', table: 'events', partitionsRegex: /^events_\d{4}$/g },
      { schema: 'public', table: 'other' },
    ]);
    expect(await publicationMembers(cluster, db, pub)).toEqual([
      'public.events_2024',
      'public.events_2025',
      'public.other',
    ]);
    expect(names(result.added)).toEqual(['public.events', 'public.other']);
    const map = relationMapper(result.aliases);
    expect(map({ schema: 'public', table: 'events_2025' })).toEqual({
      schema: 'public',
      table: 'events',
    });
    expect(map({ schema: 'public', table: 'other' })).toBeUndefined();

    // A new matching table is picked up by the next sync.
    await cluster.sql('CREATE TABLE events_2026 (id int PRIMARY KEY)', [], db);
    const next = await syncPublication(cluster.urlFor(db), pub, [
      { schema: 'public', table: 'events', partitionsRegex: '^events_\\d{4}$' },
      { schema: 'public', table: 'other' },
    ]);
    expect(names(next.added)).toEqual(['public.events']);
    expect(next.aliases.map((a) => a.source.table).sort()).toEqual([
      'events_2024',
      'events_2025',
      'events_2026',
    ]);
  });

  test('views and unlogged tables are refused with the reason', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    await cluster.sql(
      'CREATE TABLE t (id int PRIMARY KEY); CREATE VIEW v AS SELECT * FROM t; CREATE UNLOGGED TABLE u (id int PRIMARY KEY)',
      [],
      db,
    );
    const url = cluster.urlFor(db);
    await expect(
      syncPublication(url, uniqueName('p'), [{ schema: 'public', table: 'v' }]),
    ).rejects.toThrow(/is a view/);
    await expect(
      syncPublication(url, uniqueName('p'), [{ schema: 'public', table: 'u' }]),
    ).rejects.toThrow(/UNLOGGED/);
  });
});
