import { type PgCluster, startPostgres } from '@kuvasz/testkit';
import type { Db } from './checks.js';
import { runCli } from './cli.js';
import { tempDir, writeConfig } from './harness.js';

export interface TwoSources {
  /** Source `a` (PG 14) and source `b` (PG 17), each with the database made by the DDL. */
  a: PgCluster;
  b: PgCluster;
  /** The destination cluster (PG 17) and its `warehouse` database. */
  dwhPg: PgCluster;
  dwh: Db;
  sources: { sid: 'a' | 'b'; db: Db }[];
  /** The configuration file; its targets are created (`plan --apply`). */
  config: string;
}

/**
 * The fault tests' layout: one source database on PG 14 (sid a) and on PG 17
 * (sid b) into one warehouse, with the given tables and two
 * workers flushing every 100 ms.
 */
export async function twoSourcesIntoWarehouse(o: {
  database: string;
  ddl: string;
  /** The `tables:` entries, one YAML line each. */
  tables: string[];
  file: string;
}): Promise<TwoSources> {
  const [a, b, dwhPg] = await Promise.all([
    startPostgres({ version: 14 }),
    startPostgres({ version: 17 }),
    startPostgres({ version: 17 }),
  ]);
  const sources: TwoSources['sources'] = [];
  for (const [sid, c] of [
    ['a', a],
    ['b', b],
  ] as const) {
    const db = await c.createDatabase(o.database);
    await c.sql(o.ddl, [], db);
    sources.push({ sid, db: { cluster: c, db } });
  }
  const dwh = { cluster: dwhPg, db: await dwhPg.createDatabase('warehouse') };
  const config = writeConfig(
    tempDir(),
    o.file,
    `destination: { url: "${dwhPg.urlFor(dwh.db)}" }
databases:
  - database: ${o.database}
    urls:
      - { url: "${a.urlFor(o.database)}", sid: a }
      - { url: "${b.urlFor(o.database)}", sid: b }
    tables:
${o.tables.map((t) => `      ${t}`).join('\n')}
apply: { workers: 2, flush_interval_ms: 100 }
`,
  );
  const plan = runCli(['plan', '-c', config, '--apply']);
  if (plan.status !== 0) throw new Error(`plan --apply exited ${plan.status}: ${plan.stderr}`);
  return { a, b, dwhPg, dwh, sources, config };
}
