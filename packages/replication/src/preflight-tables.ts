import { displayName, noopLogger, qualifiedName } from '@kuvasz/core';
import pg from 'pg';
import { query } from './connection.js';
import { type PreflightProblem, ReplicationError } from './errors.js';
import type { RoleInfo } from './preflight.js';
import type { PublicationTable } from './publication.js';
import { resolvePublicationTables } from './publication-plan.js';
import type { TableRef } from './types.js';

export interface TableCheckInput {
  tables: PublicationTable[];
  publication: string;
  role: RoleInfo;
  major: number;
  problems: PreflightProblem[];
  warnings: PreflightProblem[];
}

interface ConfiguredRow {
  schema: string;
  table: string;
  oid: string | null;
  relkind: string | null;
  persistence: string | null;
  readable: boolean | null;
  similar_schema: string | null;
  similar_table: string | null;
}

interface MemberRow extends TableRef {
  oid: string;
  relkind: string;
  replident: string;
  owner: string;
  owned: boolean;
  has_pk: boolean;
  has_ri_index: boolean;
  published: boolean;
}

const NOT_PUBLISHABLE: Record<string, string> = {
  v: 'a view',
  m: 'a materialized view',
  f: 'a foreign table',
};

/** Publication rights, table existence, ownership, read access and replica identity. */
export async function checkTables(client: pg.ClientBase, input: TableCheckInput): Promise<void> {
  const { tables, publication, role, problems, warnings } = input;
  const pubIdent = pg.escapeIdentifier(publication);
  const roleIdent = pg.escapeIdentifier(role.name);

  const [pub] = await query<{ owner: string; owned: boolean; all_tables: boolean }>(
    client,
    `SELECT pg_get_userbyid(p.pubowner) AS owner, pg_has_role(current_user, p.pubowner, 'USAGE') AS owned,
            p.puballtables AS all_tables
       FROM pg_publication p WHERE p.pubname = $1`,
    [publication],
    'reading the publication',
  );
  if (pub) {
    if (!pub.owned && !role.superuser) {
      problems.push({
        code: 'publication_not_owned',
        message: `publication ${pubIdent} is owned by ${pg.escapeIdentifier(pub.owner)}, so role ${roleIdent} cannot change its tables; as ${pg.escapeIdentifier(pub.owner)} or a superuser run ALTER PUBLICATION ${pubIdent} OWNER TO ${roleIdent}`,
        context: { publication, owner: pub.owner, role: role.name },
      });
    }
    if (pub.all_tables) {
      problems.push({
        code: 'publication_all_tables',
        message: `publication ${pubIdent} is FOR ALL TABLES, so it cannot hold exactly the configured tables; drop it (DROP PUBLICATION ${pubIdent}) and the streamer creates it`,
        context: { publication },
      });
    }
  } else if (!role.superuser) {
    const [db] = await query<{ db: string; can_create: boolean }>(
      client,
      `SELECT current_database() AS db, has_database_privilege(current_database(), 'CREATE') AS can_create`,
      undefined,
      'reading the database privileges',
    );
    if (db && !db.can_create) {
      const dbIdent = pg.escapeIdentifier(db.db);
      problems.push({
        code: 'cannot_create_publication',
        message: `role ${roleIdent} cannot create publication ${pubIdent}: it lacks CREATE on database ${dbIdent}; GRANT CREATE ON DATABASE ${dbIdent} TO ${roleIdent}, or create the publication once as the tables' owner and give it to ${roleIdent} (ALTER PUBLICATION ${pubIdent} OWNER TO ${roleIdent})`,
        context: { publication, database: db.db, role: role.name },
      });
    }
  }

  const configured = await query<ConfiguredRow>(
    client,
    `SELECT t.schema, t.tbl AS table, c.oid::int8::text AS oid, c.relkind::text AS relkind,
            c.relpersistence::text AS persistence,
            has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT') AS readable,
            s.schema AS similar_schema, s.tbl AS similar_table
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(schema, tbl, ord)
       LEFT JOIN pg_namespace n ON n.nspname = t.schema
       LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.tbl
                           AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
       LEFT JOIN LATERAL (
         SELECT n2.nspname AS schema, c2.relname AS tbl FROM pg_class c2
           JOIN pg_namespace n2 ON n2.oid = c2.relnamespace
          WHERE c.oid IS NULL AND lower(n2.nspname) = lower(t.schema) AND lower(c2.relname) = lower(t.tbl)
            AND c2.relkind IN ('r', 'p') LIMIT 1) s ON true
      ORDER BY t.ord`,
    [tables.map((t) => t.schema), tables.map((t) => t.table)],
    'reading the configured tables',
  );
  let tablesOk = true;
  configured.forEach((row, i) => {
    const spec = tables[i];
    const name = displayName(row);
    if (row.oid === null) {
      if (spec?.partitionsRegex !== undefined && spec.partitionsRegex !== '') return;
      tablesOk = false;
      const hint =
        row.similar_schema !== null && row.similar_table !== null
          ? ` (did you mean ${displayName({ schema: row.similar_schema, table: row.similar_table })}? names are case-sensitive)`
          : '';
      problems.push({
        code: 'table_missing',
        message: `configured table ${name} does not exist${hint}; create it or remove it from the configuration`,
        context: { schema: row.schema, table: row.table },
      });
      return;
    }
    const kind = NOT_PUBLISHABLE[row.relkind ?? ''];
    if (kind || row.persistence !== 'p') {
      tablesOk = false;
      problems.push({
        code: 'table_not_publishable',
        message: kind
          ? `configured table ${name} is ${kind}; only tables can be published: configure its underlying table instead`
          : `configured table ${name} is ${row.persistence === 'u' ? 'UNLOGGED' : 'TEMPORARY'}, so its changes are not in the WAL; ALTER TABLE ${qualifiedName(row)} SET LOGGED, or remove it from the configuration`,
        context: { schema: row.schema, table: row.table, relkind: row.relkind },
      });
      return;
    }
    if (!row.readable) {
      problems.push({
        code: 'table_not_readable',
        message: `role ${roleIdent} cannot read ${name}, which the initial copy needs; GRANT USAGE ON SCHEMA ${pg.escapeIdentifier(row.schema)} TO ${roleIdent}; GRANT SELECT ON ${qualifiedName(row)} TO ${roleIdent}`,
        context: { schema: row.schema, table: row.table, role: role.name },
      });
    }
  });
  if (!tablesOk) return;

  let memberOids: string[];
  try {
    const plan = await resolvePublicationTables(
      client,
      publication,
      tables,
      input.major,
      'source',
      noopLogger,
    );
    memberOids = [...plan.members.keys()];
  } catch (e) {
    if (!(e instanceof ReplicationError)) throw e;
    problems.push({
      code: e.code === 'table_missing' ? 'table_missing' : 'table_not_publishable',
      message: e.message.replace(/^source: /, ''),
      context: {},
    });
    return;
  }
  const members = await query<MemberRow>(
    client,
    `SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS table, c.relkind::text AS relkind,
            c.relreplident::text AS replident, pg_get_userbyid(c.relowner) AS owner,
            pg_has_role(current_user, c.relowner, 'USAGE') AS owned,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS has_ri_index,
            EXISTS (SELECT 1 FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
                     WHERE pr.prrelid = c.oid AND p.pubname = $2) AS published
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = ANY($1::oid[])
      ORDER BY n.nspname, c.relname`,
    [memberOids, publication],
    'reading the tables to publish',
  );
  for (const m of members) {
    const name = displayName(m);
    if (!m.published && !m.owned && !role.superuser) {
      const owner = pg.escapeIdentifier(m.owner);
      problems.push({
        code: 'table_not_owned',
        message: `table ${name} is owned by ${owner}, and only its owner (or a superuser) can add it to publication ${pubIdent}; as ${owner} run ALTER PUBLICATION ${pubIdent} ADD TABLE ${qualifiedName(m)} (creating the publication first if needed), or run the streamer as ${owner}`,
        context: { schema: m.schema, table: m.table, owner: m.owner, role: role.name },
      });
    }
    const leaves = m.relkind === 'p' ? await partitionLeaves(client, m.oid) : [m];
    const lacking = leaves.filter((l) => !hasReplicaIdentity(l));
    if (lacking.length > 0) {
      const names = lacking.map(displayName).join(', ');
      const subject =
        m.relkind === 'p' ? `partitions ${names} of ${name} have` : `table ${name} has`;
      warnings.push({
        code: 'no_replica_identity',
        message: `${subject} no primary key and no replica identity: once published, UPDATE and DELETE on ${lacking.length === 1 && m.relkind !== 'p' ? 'it' : 'them'} fail on the source ("cannot update table ... because it does not have a replica identity and publishes updates") and only INSERTs replicate; add a primary key, or ALTER TABLE ... REPLICA IDENTITY FULL (or USING INDEX a unique index)`,
        context: {
          schema: m.schema,
          table: m.table,
          tables: lacking.map(displayName),
        },
      });
    }
  }
}

type IdentityRow = Pick<MemberRow, 'schema' | 'table' | 'replident' | 'has_pk' | 'has_ri_index'>;

function hasReplicaIdentity(r: IdentityRow): boolean {
  switch (r.replident) {
    case 'f':
      return true;
    case 'd':
      return r.has_pk;
    case 'i':
      return r.has_ri_index;
    default:
      return false;
  }
}

async function partitionLeaves(client: pg.ClientBase, oid: string): Promise<IdentityRow[]> {
  return query<IdentityRow & Record<string, unknown>>(
    client,
    `SELECT n.nspname AS schema, c.relname AS table, c.relreplident::text AS replident,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS has_ri_index
       FROM pg_partition_tree($1::oid::regclass) t
       JOIN pg_class c ON c.oid = t.relid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE t.isleaf AND c.relkind = 'r'
      ORDER BY n.nspname, c.relname`,
    [oid],
    'reading the partitions',
  );
}
