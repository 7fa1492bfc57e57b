import { quoteIdent } from './identifiers.js';
import { LEASE_LOST_SQLSTATE } from './lease-fence.js';

/** The part of a `pg` client (or pool client) the migrations use; a pool would spread them over connections. */
export interface SqlClient {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** The metadata schema is newer than this code, or cannot be created. */
export class MetadataSchemaError extends Error {
  override readonly name = 'MetadataSchemaError';
  readonly code: 'schema_newer' | 'schema_failed';
  readonly schema: string;

  constructor(
    code: MetadataSchemaError['code'],
    schema: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.schema = schema;
  }
}

interface Migration {
  version: number;
  /** What it does, recorded in `schema_version`. */
  name: string;
  statements(schema: string): string[];
}

/**
 * Every table of the metadata schema, in the order they came. Versions 1
 * to 3 are what existing installations already have (created before
 * versions were recorded): they are written with IF NOT EXISTS, so a first
 * start of this code on such a database records them without change.
 * Append new migrations; never edit one that shipped.
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'apply: positions per target table and lane, durable position per source',
    statements: (s) => [
      `CREATE TABLE IF NOT EXISTS ${s}.positions (
         source_database text NOT NULL,
         sid text NOT NULL,
         target_schema text NOT NULL,
         target_table text NOT NULL,
         lane integer NOT NULL,
         lanes integer NOT NULL,
         commit_lsn pg_lsn NOT NULL,
         next_index integer NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (source_database, sid, target_schema, target_table, lane))`,
      `CREATE TABLE IF NOT EXISTS ${s}.sources (
         source_database text NOT NULL,
         sid text NOT NULL,
         durable_lsn pg_lsn NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (source_database, sid))`,
    ],
  },
  {
    version: 2,
    name: 'copy-sync: state per copied table, committed chunks',
    statements: (s) => [
      `CREATE TABLE IF NOT EXISTS ${s}.copy_sync_tables (
        database text NOT NULL, sid text NOT NULL,
        source_schema text NOT NULL, source_table text NOT NULL,
        target_schema text NOT NULL, target_table text NOT NULL,
        type text NOT NULL CHECK (type IN ('clone', 'append', 'history')),
        status text NOT NULL CHECK (status IN ('copying', 'done')),
        mode text NOT NULL CHECK (mode IN ('direct', 'staging')),
        snapshot_name text NOT NULL, snapshot_lsn pg_lsn NOT NULL,
        skip_before pg_lsn NOT NULL, reconcile_before pg_lsn,
        chunk_pages integer NOT NULL, chunks_total integer NOT NULL,
        rows bigint NOT NULL DEFAULT 0, bytes bigint NOT NULL DEFAULT 0,
        history_time timestamptz, staging_table text,
        started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz,
        PRIMARY KEY (database, sid, source_schema, source_table, target_schema, target_table))`,
      `CREATE TABLE IF NOT EXISTS ${s}.copy_sync_chunks (
        database text NOT NULL, sid text NOT NULL,
        source_schema text NOT NULL, source_table text NOT NULL,
        target_schema text NOT NULL, target_table text NOT NULL,
        chunk integer NOT NULL, rows bigint NOT NULL, bytes bigint NOT NULL,
        snapshot_lsn pg_lsn NOT NULL, done_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (database, sid, source_schema, source_table, target_schema, target_table, chunk))`,
    ],
  },
  {
    version: 3,
    name: 'streamer: status per source, operation counters per table',
    statements: (s) => [
      `CREATE TABLE IF NOT EXISTS ${s}.streamer_status (
          database text NOT NULL,
          sid text NOT NULL,
          state text NOT NULL,
          last_error text,
          last_error_kind text,
          last_error_at timestamptz,
          lag_seconds double precision,
          lag_bytes numeric,
          retained_wal_bytes numeric,
          wal_status text,
          updated_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (database, sid))`,
      `CREATE TABLE IF NOT EXISTS ${s}.streamer_table_stats (
          database text NOT NULL,
          sid text NOT NULL,
          target text NOT NULL,
          operation text NOT NULL,
          result text NOT NULL,
          count bigint NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (database, sid, target, operation, result))`,
    ],
  },
  {
    version: 4,
    name: 'apply: ordered apply, one position per source (lane positions are read until replays pass them)',
    statements: (s) => [
      `CREATE TABLE ${s}.source_positions (
         source_database text NOT NULL,
         sid text NOT NULL,
         commit_lsn pg_lsn NOT NULL,
         end_lsn pg_lsn NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (source_database, sid))`,
    ],
  },
  {
    version: 5,
    name: 'streamer: the map (databases, URLs, tables) when it is kept in the destination',
    statements: (s) => [
      `CREATE TABLE ${s}.map_db (
         id serial PRIMARY KEY,
         name text NOT NULL UNIQUE)`,
      `CREATE TABLE ${s}.map_url (
         id serial PRIMARY KEY,
         db_id integer NOT NULL REFERENCES ${s}.map_db (id) ON DELETE CASCADE,
         url text NOT NULL,
         sid text NOT NULL,
         UNIQUE (db_id, sid))`,
      `CREATE TABLE ${s}.map_tbl (
         id serial PRIMARY KEY,
         db_id integer NOT NULL REFERENCES ${s}.map_db (id) ON DELETE CASCADE,
         schema text NOT NULL,
         name text NOT NULL,
         type text NOT NULL CHECK (type IN ('clone', 'append', 'history')),
         target text,
         partitions_regex text,
         filter text,
         set jsonb,
         UNIQUE (db_id, schema, name))`,
    ],
  },
  {
    version: 6,
    name: 'streamer: received and flushed positions and retries in the status per source',
    statements: (s) => [
      `ALTER TABLE ${s}.streamer_status
         ADD COLUMN received_lsn pg_lsn,
         ADD COLUMN flushed_lsn pg_lsn,
         ADD COLUMN retries integer`,
    ],
  },
  {
    version: 7,
    name: 'fleet: leases of sources with epochs, the instances, and the fence every write of a leased source checks',
    statements: (s) => [
      `CREATE TABLE ${s}.source_leases (
         source_database text NOT NULL,
         sid text NOT NULL,
         owner text,
         epoch bigint NOT NULL DEFAULT 0,
         expires_at timestamptz,
         taken_at timestamptz,
         PRIMARY KEY (source_database, sid))`,
      `CREATE TABLE ${s}.fleet_instances (
         instance_id text PRIMARY KEY,
         started_at timestamptz NOT NULL DEFAULT now(),
         seen_at timestamptz NOT NULL DEFAULT now())`,
      // FOR SHARE: a taker's epoch bump waits for a write in flight, and a write
      // after the bump sees the new epoch (READ COMMITTED locks the newest version).
      `CREATE FUNCTION ${s}.check_lease(p_database text, p_sid text, p_owner text, p_epoch bigint)
         RETURNS void LANGUAGE plpgsql AS $fn$
       DECLARE l record;
       BEGIN
         SELECT owner, epoch INTO l FROM ${s}.source_leases
          WHERE source_database = p_database AND sid = p_sid FOR SHARE;
         IF NOT FOUND OR l.owner IS DISTINCT FROM p_owner OR l.epoch <> p_epoch THEN
           RAISE EXCEPTION 'the lease of source % (sid %) was lost: this instance (%) held it at epoch %, it is now held by % at epoch %',
             p_database, p_sid, p_owner, p_epoch, coalesce(l.owner, 'nobody'), coalesce(l.epoch, 0)
             USING ERRCODE = '${LEASE_LOST_SQLSTATE}',
                   HINT = 'another instance streams this source now; this one writes nothing more of it';
         END IF;
       END $fn$`,
    ],
  },
];

/** The version this code writes. */
export const METADATA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

// Arbitrary constant: serialises every creator of the metadata schema (several processes, packages).
const LOCK_KEY = 0x6b76737a;

/**
 * Creates the metadata schema or migrates it to `METADATA_VERSION`: the one
 * creation path of every table in it, whichever package asks first. Runs in
 * one transaction under an advisory lock (concurrent starters wait, then find
 * it done); records each migration in `schema_version`. Throws
 * MetadataSchemaError when the schema is newer than this code, or cannot be
 * created (with the grant that fixes it).
 */
export async function ensureMetadataSchema(client: SqlClient, schema: string): Promise<number> {
  const s = quoteIdent(schema);
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    // Looked up first: CREATE SCHEMA IF NOT EXISTS wants CREATE on the database even when it exists.
    const found = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (found.rows.length === 0) await client.query(`CREATE SCHEMA ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_version (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const res = await client.query(
      `SELECT coalesce(max(version), 0)::int AS v FROM ${s}.schema_version`,
    );
    const current = Number(res.rows[0]?.v ?? 0);
    if (current > METADATA_VERSION) {
      throw new MetadataSchemaError(
        'schema_newer',
        schema,
        `metadata schema ${schema} is at version ${current}, written by a newer kuvasz-streamer than this one (version ${METADATA_VERSION}); run the newer version, or restore the schema from before the upgrade`,
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      for (const sql of m.statements(s)) await client.query(sql);
      await client.query(`INSERT INTO ${s}.schema_version (version, name) VALUES ($1, $2)`, [
        m.version,
        m.name,
      ]);
    }
    await client.query('COMMIT');
    return METADATA_VERSION;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (e instanceof MetadataSchemaError) throw e;
    throw new MetadataSchemaError(
      'schema_failed',
      schema,
      `cannot create or migrate the metadata schema ${schema} in the destination: ${e instanceof Error ? e.message : String(e)}; grant CREATE on the database to the streamer's role (or create the schema for it and grant it CREATE on the schema)`,
      { cause: e },
    );
  }
}
