import { displayName, type Logger, qualifiedName, sameTable, tableKey } from '@kuvasz/core';
import pg from 'pg';
import { query } from './connection.js';
import { PublicationError, ReplicationError } from './errors.js';
import type { PublicationTable, TableAlias } from './publication.js';
import type { TableRef } from './types.js';

export interface PlannedMember {
  oid: string;
  ref: TableRef;
  /** The configured table its changes belong to. */
  target: TableRef;
  relkind: string;
}

export interface PublicationPlan {
  /** By relation OID (as text). */
  members: Map<string, PlannedMember>;
  aliases: TableAlias[];
}

interface RelationRow {
  oid: string;
  schema: string;
  table: string;
  relkind: string;
  persistence: string;
  ancestors: string[];
}

const KIND_NAMES: Record<string, string> = {
  v: 'a view',
  m: 'a materialized view',
  f: 'a foreign table',
};

/** Which relations the publication must hold for the configured tables, and where their changes go. */
export async function resolvePublicationTables(
  client: pg.ClientBase,
  publication: string,
  tables: PublicationTable[],
  version: number,
  where: string,
  log: Logger,
): Promise<PublicationPlan> {
  const regexes = new Map<string, RegExp>();
  for (const t of tables) {
    if (t.partitionsRegex === undefined || t.partitionsRegex === '') continue;
    try {
      regexes.set(
        tableKey(t),
        // Without g/y: test() must not carry lastIndex from one name to the next.
        typeof t.partitionsRegex === 'string'
          ? new RegExp(t.partitionsRegex)
          : new RegExp(t.partitionsRegex.source, t.partitionsRegex.flags.replace(/[gy]/g, '')),
      );
    } catch (e) {
      throw new ReplicationError(
        'invalid_argument',
        `partitions_regex ${JSON.stringify(t.partitionsRegex)} of table ${displayName(t)} is not a valid regular expression: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
  const regexSchemas = [
    ...new Set(tables.filter((t) => regexes.has(tableKey(t))).map((t) => t.schema)),
  ];
  const rows = await query<RelationRow>(
    client,
    `SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS table,
            c.relkind::text AS relkind, c.relpersistence::text AS persistence,
            CASE WHEN c.relispartition
                 THEN ARRAY(SELECT a.relid::int8::text FROM pg_partition_ancestors(c.oid) a
                             WHERE a.relid <> c.oid)
                 ELSE '{}'::text[] END AS ancestors
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
        AND (n.nspname = ANY($1::text[])
             OR (n.nspname, c.relname) IN (SELECT * FROM unnest($2::text[], $3::text[])))`,
    [regexSchemas, tables.map((t) => t.schema), tables.map((t) => t.table)],
    'reading the configured tables',
  );
  const byName = new Map(rows.map((r) => [tableKey(r), r]));

  const members = new Map<string, PlannedMember>();
  const claim = (row: RelationRow, target: TableRef): void => {
    const existing = members.get(row.oid);
    if (existing) {
      if (!sameTable(existing.target, target)) {
        log.warn(
          {
            table: displayName(row),
            kept: displayName(existing.target),
            ignored: displayName(target),
          },
          'a published table matches two configured tables; its changes go to the first',
        );
      }
      return;
    }
    members.set(row.oid, {
      oid: row.oid,
      ref: { schema: row.schema, table: row.table },
      target: { schema: target.schema, table: target.table },
      relkind: row.relkind,
    });
  };
  const checkPublishable = (row: RelationRow): void => {
    const kind = KIND_NAMES[row.relkind];
    if (kind) {
      throw new PublicationError(
        publication,
        `${where}: ${displayName(row)} is ${kind}; only tables can be published: configure its underlying table instead`,
      );
    }
    if (row.persistence !== 'p') {
      throw new PublicationError(
        publication,
        `${where}: ${displayName(row)} is ${row.persistence === 'u' ? 'UNLOGGED' : 'TEMPORARY'}, and such tables are not replicated; make it a permanent table (ALTER TABLE ${qualifiedName(row)} SET LOGGED) or remove it from the configuration`,
      );
    }
  };

  // Exact names first, so a configured table always keeps its own changes.
  const partitionedOnPg12: { row: RelationRow; target: TableRef }[] = [];
  for (const t of tables) {
    const row = byName.get(tableKey(t));
    if (!row) {
      if (regexes.has(tableKey(t))) continue;
      throw await missingTable(client, publication, t, where);
    }
    checkPublishable(row);
    if (row.relkind === 'p' && version < 13) partitionedOnPg12.push({ row, target: t });
    else claim(row, t);
  }
  // PostgreSQL 12 cannot publish a partitioned table: publish its leaves.
  for (const { row, target } of partitionedOnPg12) {
    const leaves = await query<RelationRow>(
      client,
      `SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS table,
              c.relkind::text AS relkind, c.relpersistence::text AS persistence, '{}'::text[] AS ancestors
         FROM pg_partition_tree($1::int8::oid::regclass) t
         JOIN pg_class c ON c.oid = t.relid
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE t.isleaf`,
      [row.oid],
      `reading the partitions of ${displayName(row)}`,
    );
    for (const leaf of leaves) {
      if (leaf.relkind !== 'r' || leaf.persistence !== 'p') {
        log.warn(
          { table: displayName(leaf), parent: displayName(target) },
          'partition is not a permanent ordinary table and cannot be published; its changes are not replicated',
        );
        continue;
      }
      claim(leaf, target);
    }
  }
  for (const t of tables) {
    const re = regexes.get(tableKey(t));
    if (!re) continue;
    let matched = 0;
    for (const row of rows) {
      if (row.schema !== t.schema || row.relkind !== 'r' || row.persistence !== 'p') continue;
      if (sameTable(row, t) || !re.test(row.table)) continue;
      // A partition already reaches its published root (PostgreSQL 13+).
      if (row.ancestors.some((a) => members.get(a)?.relkind === 'p')) continue;
      claim(row, t);
      matched++;
    }
    if (matched === 0 && !byName.has(tableKey(t))) {
      throw await missingTable(client, publication, t, where, re);
    }
  }

  const aliases: TableAlias[] = [];
  for (const m of members.values()) {
    if (!sameTable(m.ref, m.target)) aliases.push({ source: m.ref, target: m.target });
  }
  return { members, aliases };
}

async function missingTable(
  client: pg.ClientBase,
  publication: string,
  t: TableRef,
  where: string,
  re?: RegExp,
): Promise<PublicationError> {
  const similar = await query<{ schema: string; table: string }>(
    client,
    `SELECT n.nspname AS schema, c.relname AS table FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE lower(n.nspname) = lower($1) AND lower(c.relname) = lower($2)
        AND c.relkind IN ('r', 'p') LIMIT 1`,
    [t.schema, t.table],
    'looking for a similarly named table',
  );
  const hint = similar[0]
    ? ` (did you mean ${displayName(similar[0])}? names are case-sensitive)`
    : '';
  const regexPart = re
    ? ` and no table of schema ${pg.escapeIdentifier(t.schema)} matches ${re}`
    : '';
  return new PublicationError(
    publication,
    `${where}: table ${displayName(t)} does not exist${regexPart}${hint}; create it or remove it from the configuration`,
    { code: 'table_missing' },
  );
}
