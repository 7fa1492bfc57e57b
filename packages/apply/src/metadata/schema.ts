import { escapeIdentifier } from 'pg';
import type { Queryable } from '../target/describe-table.js';

// Arbitrary constant: serialises concurrent first-time creation by several engines.
const CREATE_LOCK = 0x6b76737a;

/** Creates the metadata schema or brings it to the current version. */
export async function ensureMetadata(
  client: Queryable & { query: Queryable['query'] },
  schema: string,
): Promise<void> {
  const s = escapeIdentifier(schema);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [CREATE_LOCK]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
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
    );
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.sources (
         source_database text NOT NULL,
         sid text NOT NULL,
         durable_lsn pg_lsn NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (source_database, sid))`,
    );
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.source_positions (
         source_database text NOT NULL,
         sid text NOT NULL,
         commit_lsn pg_lsn NOT NULL,
         end_lsn pg_lsn NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (source_database, sid))`,
    );
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}
