import { randomBytes } from 'node:crypto';
import type { PgCluster } from '@kuvasz/testkit';

/** A name unique across the cluster (slots are server-wide). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** The publication's members, as the catalog has them. */
export async function publicationMembers(
  cluster: PgCluster,
  db: string,
  publication: string,
): Promise<string[]> {
  const rows = await cluster.sql<{ name: string }>(
    `SELECT n.nspname || '.' || c.relname AS name
       FROM pg_publication_rel pr
       JOIN pg_publication p ON p.oid = pr.prpubid
       JOIN pg_class c ON c.oid = pr.prrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE p.pubname = $1
      ORDER BY 1`,
    [publication],
    db,
  );
  return rows.map((r) => r.name);
}

export function names(list: { schema: string; table: string }[]): string[] {
  return list.map((t) => `${t.schema}.${t.table}`).sort();
}
