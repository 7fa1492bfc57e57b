import {
  displayName,
  type Logger,
  messageOf,
  noopLogger,
  qualifiedName,
  redactPasswords,
  sqlstateOf,
  tableKey,
} from '@kuvasz/core';
import pg from 'pg';
import {
  describeSqlTarget,
  majorVersion,
  query,
  type SqlTarget,
  serverVersionNum,
  withClient,
} from './connection.js';
import { PublicationError, ReplicationError } from './errors.js';
import { assertValidPublicationName } from './naming.js';
import { resolvePublicationTables } from './publication-plan.js';
import type { TableRef } from './types.js';

/** A configured source table, optionally with the Go original's `partitions_regex`. */
export interface PublicationTable extends TableRef {
  /**
   * Ordinary tables of the same schema whose name matches (unanchored, like
   * the original's Go regexp) are published too, and their changes belong to
   * this table (see `aliases`). For sources that keep partitions as separate
   * tables, and for PostgreSQL 12.
   */
  partitionsRegex?: string | RegExp | undefined;
}

/** Changes of `source` belong to the configured table `target`. */
export interface TableAlias {
  source: TableRef;
  target: TableRef;
}

export interface SyncPublicationOptions {
  logger?: Logger;
}

export interface SyncPublicationResult {
  /** True when the publication did not exist and was created. */
  created: boolean;
  /**
   * Configured tables that gained publication members in this call (all of
   * them when created): their destination must be fully synced, since
   * changes made before now were not published.
   */
  added: TableRef[];
  /** Relations dropped from the publication (no longer configured). */
  removed: TableRef[];
  /** The publication's members now. */
  published: TableRef[];
  /** Members published under their own name whose changes belong to a configured table. */
  aliases: TableAlias[];
  /** Whether partition changes are published as their root (PostgreSQL 13+). */
  viaPartitionRoot: boolean;
}

interface PublicationRow {
  oid: string;
  puballtables: boolean;
  pubinsert: boolean;
  pubupdate: boolean;
  pubdelete: boolean;
  pubtruncate: boolean;
  pubviaroot: boolean;
  owner: string;
}

interface MemberRow {
  oid: string;
  schema: string;
  table: string;
  relkind: string;
  filtered: boolean;
}

/**
 * Makes `publication` contain exactly `tables`: creates it when missing,
 * adds and drops members, and resets what a taken-over publication may
 * carry (row filters, column lists, schemas, publish options). All in one
 * transaction, serialized against concurrent calls by an advisory lock.
 *
 * Partitioned tables: on PostgreSQL 13+ the parent itself is published with
 * `publish_via_partition_root = true`, so every partition, including ones
 * created later, reaches the parent under its name. PostgreSQL 12 cannot
 * publish a partitioned table: its current leaf partitions are published
 * and returned in `aliases` (map them with `relationMapper`); partitions
 * created later are published by the next call.
 */
export async function syncPublication(
  target: SqlTarget,
  publication: string,
  tables: PublicationTable[],
  options: SyncPublicationOptions = {},
): Promise<SyncPublicationResult> {
  assertValidPublicationName(publication);
  const log = (options.logger ?? noopLogger).child({ publication });
  const where = describeSqlTarget(target);
  return withClient(target, async (client) => {
    const version = majorVersion(await serverVersionNum(client));
    if (version < 12) {
      throw new PublicationError(
        publication,
        `${where}: PostgreSQL ${version} is not supported; the streamer needs PostgreSQL 12 or later`,
      );
    }
    await query(client, 'BEGIN', undefined, 'starting the publication transaction');
    try {
      const result = await syncInTransaction(client, publication, tables, version, where, log);
      await query(client, 'COMMIT', undefined, 'committing the publication change');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      if (e instanceof ReplicationError) throw e;
      throw new PublicationError(
        publication,
        `${where}: cannot sync publication ${pg.escapeIdentifier(publication)}: ${redactPasswords(messageOf(e))}`,
        { cause: e, sqlstate: sqlstateOf(e) },
      );
    }
  });
}

async function syncInTransaction(
  client: pg.ClientBase,
  publication: string,
  tables: PublicationTable[],
  version: number,
  where: string,
  log: Logger,
): Promise<SyncPublicationResult> {
  const pubIdent = pg.escapeIdentifier(publication);
  await query(
    client,
    "SELECT pg_advisory_xact_lock(hashtext('kuvasz publication ' || $1))",
    [publication],
    'locking the publication',
  );
  const plan = await resolvePublicationTables(client, publication, tables, version, where, log);
  const viaRoot = version >= 13;

  const pubRows = await query<PublicationRow>(
    client,
    `SELECT p.oid::int8::text AS oid, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete,
            p.pubtruncate, ${viaRoot ? 'p.pubviaroot' : 'false'} AS pubviaroot,
            pg_get_userbyid(p.pubowner) AS owner
       FROM pg_publication p WHERE p.pubname = $1`,
    [publication],
    'reading the publication',
  );
  const desiredList = [...plan.members.values()];
  const withOptions = viaRoot
    ? "WITH (publish = 'insert, update, delete, truncate', publish_via_partition_root = true)"
    : "WITH (publish = 'insert, update, delete, truncate')";

  const pub = pubRows[0];
  if (!pub) {
    const list = desiredList.map((m) => memberSql(m.ref, m.relkind)).join(', ');
    const forTables = list.length > 0 ? ` FOR TABLE ${list}` : '';
    await ddl(client, `CREATE PUBLICATION ${pubIdent}${forTables} ${withOptions}`, publication);
    log.info({ tables: desiredList.length }, 'publication created');
    return {
      created: true,
      added: uniqueTargets(desiredList.map((m) => m.target)),
      removed: [],
      published: desiredList.map((m) => m.ref),
      aliases: plan.aliases,
      viaPartitionRoot: viaRoot,
    };
  }

  if (pub.puballtables) {
    throw new PublicationError(
      publication,
      `${where}: publication ${pubIdent} is FOR ALL TABLES, so it cannot hold exactly the configured tables; drop it (DROP PUBLICATION ${pubIdent}) and the streamer creates it again`,
    );
  }

  if (!(pub.pubinsert && pub.pubupdate && pub.pubdelete && pub.pubtruncate)) {
    await ddl(
      client,
      `ALTER PUBLICATION ${pubIdent} SET (publish = 'insert, update, delete, truncate')`,
      publication,
    );
    log.info({}, 'publication now publishes insert, update, delete and truncate');
  }
  if (viaRoot && !pub.pubviaroot) {
    await ddl(
      client,
      `ALTER PUBLICATION ${pubIdent} SET (publish_via_partition_root = true)`,
      publication,
    );
    log.info({}, 'publication now publishes partitions through their root');
  }

  if (version >= 15) {
    const schemas = await query<{ schema: string }>(
      client,
      `SELECT n.nspname AS schema FROM pg_publication_namespace pn
         JOIN pg_namespace n ON n.oid = pn.pnnspid WHERE pn.pnpubid = $1::int8::oid`,
      [pub.oid],
      'reading the publication schemas',
    );
    if (schemas.length > 0) {
      const list = schemas.map((s) => pg.escapeIdentifier(s.schema)).join(', ');
      await ddl(client, `ALTER PUBLICATION ${pubIdent} DROP TABLES IN SCHEMA ${list}`, publication);
      log.info({ schemas: schemas.map((s) => s.schema) }, 'schemas dropped from the publication');
    }
  }

  const members = await query<MemberRow>(
    client,
    `SELECT c.oid::int8::text AS oid, n.nspname AS schema, c.relname AS table, c.relkind::text AS relkind,
            ${version >= 15 ? '(pr.prqual IS NOT NULL OR pr.prattrs IS NOT NULL)' : 'false'} AS filtered
       FROM pg_publication_rel pr
       JOIN pg_class c ON c.oid = pr.prrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE pr.prpubid = $1::int8::oid`,
    [pub.oid],
    'reading the publication tables',
  );

  const current = new Map(members.map((m) => [m.oid, m]));
  const toDrop = members.filter((m) => !plan.members.has(m.oid) || m.filtered);
  const toAdd = desiredList.filter((m) => {
    const existing = current.get(m.oid);
    return existing === undefined || existing.filtered;
  });
  if (toDrop.length > 0) {
    const list = toDrop
      .map((m) => memberSql({ schema: m.schema, table: m.table }, m.relkind))
      .join(', ');
    await ddl(client, `ALTER PUBLICATION ${pubIdent} DROP TABLE ${list}`, publication);
  }
  if (toAdd.length > 0) {
    const list = toAdd.map((m) => memberSql(m.ref, m.relkind)).join(', ');
    await ddl(client, `ALTER PUBLICATION ${pubIdent} ADD TABLE ${list}`, publication);
  }
  // Filtered members are dropped and added back whole: not "removed".
  const removed = toDrop
    .filter((m) => !plan.members.has(m.oid))
    .map((m) => ({ schema: m.schema, table: m.table }));
  if (toAdd.length > 0 || removed.length > 0) {
    log.info(
      {
        added: toAdd.map((m) => displayName(m.ref)),
        removed: removed.map(displayName),
      },
      'publication tables changed',
    );
  }
  return {
    created: false,
    added: uniqueTargets(toAdd.map((m) => m.target)),
    removed,
    published: desiredList.map((m) => m.ref),
    aliases: plan.aliases,
    viaPartitionRoot: viaRoot,
  };
}

/** `ONLY` for plain tables, so inheritance children are never swept in. */
function memberSql(ref: TableRef, relkind: string): string {
  return relkind === 'r' ? `ONLY ${qualifiedName(ref)}` : qualifiedName(ref);
}

async function ddl(client: pg.ClientBase, text: string, publication: string): Promise<void> {
  try {
    await client.query(text);
  } catch (e) {
    const state = sqlstateOf(e);
    const fix =
      state === '42501'
        ? ' (only the owner of the publication and of each table, or a superuser, may do this: run the streamer as the tables owner, or run the statement once as the owner)'
        : '';
    throw new PublicationError(
      publication,
      `${text} failed: ${redactPasswords(messageOf(e))}${fix}`,
      {
        cause: e,
        sqlstate: state,
      },
    );
  }
}

function uniqueTargets(list: TableRef[]): TableRef[] {
  const seen = new Map<string, TableRef>();
  for (const t of list) if (!seen.has(tableKey(t))) seen.set(tableKey(t), t);
  return [...seen.values()];
}

/** Drops the publication (teardown only; nothing else ever drops it). */
export async function dropPublication(
  target: SqlTarget,
  publication: string,
  options: { logger?: Logger } = {},
): Promise<boolean> {
  assertValidPublicationName(publication);
  return withClient(target, async (client) => {
    const rows = await query(
      client,
      'SELECT 1 FROM pg_publication WHERE pubname = $1',
      [publication],
      'reading the publication',
    );
    if (rows.length === 0) return false;
    await ddl(client, `DROP PUBLICATION ${pg.escapeIdentifier(publication)}`, publication);
    (options.logger ?? noopLogger).info({ publication }, 'publication dropped');
    return true;
  });
}

/**
 * A `mapRelation` function for `ReplicationStream` from `syncPublication`'s
 * aliases: changes of an alias source are reported as its target.
 */
export function relationMapper(
  aliases: TableAlias[],
): (relation: TableRef) => TableRef | undefined {
  const map = new Map(aliases.map((a) => [tableKey(a.source), a.target]));
  return (relation) => map.get(tableKey(relation));
}
