import type { PgCluster } from '@kuvasz/testkit';
import type { CaptureRun, Scenario } from './scenarios.js';

export interface FixtureChange {
  /** `lsn` column of pg_logical_slot_peek_binary_changes. */
  lsn: string;
  /** `xid` column of pg_logical_slot_peek_binary_changes. */
  xid: string;
  /** The pgoutput message, hex. */
  data: string;
}

export interface Fixture {
  scenario: string;
  pgMajor: number;
  serverVersion: string;
  protoVersion: 1 | 2 | 3 | 4;
  options: Record<string, string>;
  sql: { setup: string[]; steps: string[]; peek: string };
  /** Catalog facts read with SQL, independent of the decoder: `schema.name` -> OID. */
  relations: Record<string, number>;
  types: Record<string, number>;
  changes: FixtureChange[];
}

const PEEK =
  'SELECT lsn::text AS lsn, xid::text AS xid, encode(data, $3) AS data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, VARIADIC $2::text[])';

export function fixtureFileName(scenario: string, run: CaptureRun): string {
  return `pg${run.pg}/${scenario}.v${run.options.proto_version}.json`;
}

/** Runs one scenario in a fresh database of `cluster` and reads the slot's changes. */
export async function captureScenario(
  cluster: PgCluster,
  scenario: Scenario,
  run: CaptureRun,
): Promise<Fixture> {
  const db = await cluster.createDatabase();
  const slot = `fx_${db}`;
  const client = await cluster.connect(db);
  const peeker = await cluster.connect(db);
  try {
    for (const sql of scenario.setup) await client.query(sql);
    await client.query('CREATE PUBLICATION pub FOR ALL TABLES');
    await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput', false, $2)`, [
      slot,
      scenario.twoPhaseSlot === true,
    ]);
    for (const sql of scenario.steps) await client.query(sql);

    const options = { ...run.options, publication_names: 'pub' };
    // The text output of timestamptz follows the decoding session's TimeZone.
    await peeker.query(`SET TimeZone = 'UTC'`);
    await peeker.query(`SET logical_decoding_work_mem = '64kB'`);
    const res = await peeker.query<FixtureChange>(PEEK, [
      slot,
      Object.entries(options).flat(),
      'hex',
    ]);

    const rels = await client.query<{ name: string; oid: string }>(
      `SELECT n.nspname || '.' || c.relname AS name, c.oid::text AS oid
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' ORDER BY 1`,
    );
    const types = await client.query<{ name: string; oid: string }>(
      `SELECT n.nspname || '.' || t.typname AS name, t.oid::text AS oid
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public'
          AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
        ORDER BY 1`,
    );
    const version = await client.query<{ v: string }>(
      "SELECT current_setting('server_version') AS v",
    );
    await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
    for (const sql of scenario.teardown ?? []) await client.query(sql);

    return {
      scenario: scenario.name,
      pgMajor: run.pg,
      serverVersion: version.rows[0]?.v ?? '',
      protoVersion: Number(run.options.proto_version) as Fixture['protoVersion'],
      options,
      sql: { setup: scenario.setup, steps: scenario.steps, peek: PEEK },
      relations: Object.fromEntries(rels.rows.map((r) => [r.name, Number(r.oid)])),
      types: Object.fromEntries(types.rows.map((r) => [r.name, Number(r.oid)])),
      changes: res.rows,
    };
  } finally {
    await peeker.end();
    await client.end();
  }
}
