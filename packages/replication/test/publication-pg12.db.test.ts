import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { kuvaszObjectName } from '../src/naming.js';
import { relationMapper, syncPublication } from '../src/publication.js';
import { names, publicationMembers } from './helpers.js';

// PostgreSQL 12 cannot publish a partitioned table: its leaves stand in.
describe('syncPublication on PostgreSQL 12', () => {
  const pgc = useCluster({ version: 12 });

  test('publishes the leaf partitions and maps them to the configured parent', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    await cluster.sql(
      `CREATE TABLE m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
       CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
       CREATE TABLE m_2025 PARTITION OF m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')
         PARTITION BY RANGE (id);
       CREATE TABLE m_2025_low PARTITION OF m_2025 FOR VALUES FROM (0) TO (1000);
       CREATE TABLE "Plain" (id int PRIMARY KEY);`,
      [],
      db,
    );
    const pub = kuvaszObjectName(db, 'pg12');
    const tables = [
      { schema: 'public', table: 'm' },
      { schema: 'public', table: 'Plain' },
    ];
    const result = await syncPublication(cluster.urlFor(db), pub, tables);
    expect(result.viaPartitionRoot).toBe(false);
    expect(result.created).toBe(true);
    expect(await publicationMembers(cluster, db, pub)).toEqual([
      'public.Plain',
      'public.m_2024',
      'public.m_2025_low',
    ]);
    expect(names(result.added)).toEqual(['public.Plain', 'public.m']);
    const map = relationMapper(result.aliases);
    expect(map({ schema: 'public', table: 'm_2025_low' })).toEqual({
      schema: 'public',
      table: 'm',
    });
    expect(map({ schema: 'public', table: 'Plain' })).toBeUndefined();

    // A partition created later is published by the next call, reported under its parent.
    await cluster.sql(
      "CREATE TABLE m_2026 PARTITION OF m FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
      [],
      db,
    );
    const next = await syncPublication(cluster.urlFor(db), pub, tables);
    expect(names(next.added)).toEqual(['public.m']);
    expect(await publicationMembers(cluster, db, pub)).toContain('public.m_2026');
  });
});
