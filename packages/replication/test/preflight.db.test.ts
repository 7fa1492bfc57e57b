import { type PgCluster, startPostgres, testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { ConnectionError, PreflightError } from '../src/errors.js';
import { assertPreflight, preflight } from '../src/preflight.js';
import { ReplicationConnection } from '../src/replication-connection.js';
import { uniqueName } from './helpers.js';

function codes(list: { code: string }[]): string[] {
  return list.map((p) => p.code).sort();
}

async function createRole(
  cluster: PgCluster,
  attrs: string,
): Promise<{ user: string; password: string }> {
  const user = uniqueName('role');
  const password = `pw_${uniqueName('x')}`;
  await cluster.sql(`CREATE ROLE ${user} LOGIN ${attrs} PASSWORD '${password}'`);
  return { user, password };
}

describe.each(testedVersions())('preflight on PostgreSQL %i', (version) => {
  const pgc = useCluster({ version });

  test('a ready source has no problem and no warning', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    await cluster.sql(
      'CREATE TABLE "Orders" (id int PRIMARY KEY); CREATE TABLE full_id (v text)',
      [],
      db,
    );
    await cluster.sql('ALTER TABLE full_id REPLICA IDENTITY FULL', [], db);
    const report = await preflight({
      connectionString: cluster.urlFor(db),
      tables: [
        { schema: 'public', table: 'Orders' },
        { schema: 'public', table: 'full_id' },
      ],
      publication: uniqueName('kuvasz_pub'),
      slot: uniqueName('kuvasz_slot'),
    });
    expect(report.problems).toEqual([]);
    expect(report.warnings).toEqual([]);
    expect(report.serverVersion).toBeGreaterThanOrEqual(version * 10000);
    expect(report.url).not.toContain(cluster.password);
    expect(() => assertPreflight(report)).not.toThrow();
  });

  test('missing tables, views and tables without replica identity', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    await cluster.sql(
      `CREATE TABLE "Customers" (id int PRIMARY KEY);
       CREATE TABLE no_pk (v text);
       CREATE TABLE nothing_id (id int PRIMARY KEY);
       ALTER TABLE nothing_id REPLICA IDENTITY NOTHING;
       CREATE VIEW a_view AS SELECT 1 AS x;
       CREATE TABLE parted (id int, k int) PARTITION BY LIST (k);
       CREATE TABLE parted_1 PARTITION OF parted FOR VALUES IN (1);`,
      [],
      db,
    );
    const report = await preflight({
      connectionString: cluster.urlFor(db),
      tables: [
        { schema: 'public', table: 'customers' },
        { schema: 'nowhere', table: 't' },
        { schema: 'public', table: 'a_view' },
      ],
      publication: 'p',
      slot: 'Bad-Name',
    });
    expect(codes(report.problems)).toEqual([
      'invalid_slot_name',
      'table_missing',
      'table_missing',
      'table_not_publishable',
    ]);
    const missing = report.problems.find((p) => p.message.includes('table public.customers '));
    expect(missing?.message).toContain('did you mean public."Customers"');

    const warnings = await preflight({
      connectionString: cluster.urlFor(db),
      tables: [
        { schema: 'public', table: 'no_pk' },
        { schema: 'public', table: 'nothing_id' },
        { schema: 'public', table: 'parted' },
      ],
      publication: 'p',
      slot: uniqueName('kuvasz_slot'),
    });
    expect(warnings.problems).toEqual([]);
    expect(codes(warnings.warnings)).toEqual([
      'no_replica_identity',
      'no_replica_identity',
      'no_replica_identity',
    ]);
    const pk = warnings.warnings.find((w) => w.message.includes('table public.no_pk has'));
    expect(pk?.message).toContain('REPLICA IDENTITY FULL');
    expect(pk?.message).toContain('UPDATE and DELETE');
    expect(
      warnings.warnings.some((w) =>
        w.message.includes('partitions public.parted_1 of public.parted'),
      ),
    ).toBe(true);
  });

  test('a role without REPLICATION, without ownership, without rights', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    await cluster.sql(
      'CREATE TABLE mine (id int PRIMARY KEY); CREATE TABLE theirs (id int PRIMARY KEY)',
      [],
      db,
    );
    const plain = await createRole(cluster, '');
    const repl = await createRole(cluster, 'REPLICATION');
    await cluster.sql(`ALTER TABLE mine OWNER TO ${repl.user}`, [], db);

    const noRepl = await preflight({
      connectionString: cluster.urlFor(db, plain),
      tables: [],
      publication: 'p',
      slot: uniqueName('kuvasz_slot'),
    });
    expect(codes(noRepl.problems)).toEqual(['cannot_create_publication', 'replication_role']);
    const role = noRepl.problems.find((p) => p.code === 'replication_role');
    expect(role?.message).toContain(`ALTER ROLE "${plain.user}" WITH REPLICATION`);

    const pub = uniqueName('kuvasz_pub');
    const notOwner = await preflight({
      connectionString: cluster.urlFor(db, repl),
      tables: [
        { schema: 'public', table: 'mine' },
        { schema: 'public', table: 'theirs' },
      ],
      publication: pub,
      slot: uniqueName('kuvasz_slot'),
    });
    expect(codes(notOwner.problems)).toEqual([
      'cannot_create_publication',
      'table_not_owned',
      'table_not_readable',
    ]);
    const owned = notOwner.problems.find((p) => p.code === 'table_not_owned');
    expect(owned?.message).toContain('table public.theirs is owned by');
    expect(owned?.message).toContain(`ALTER PUBLICATION "${pub}" ADD TABLE "public"."theirs"`);
    const err = (() => {
      try {
        assertPreflight(notOwner);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(PreflightError);
    expect((err as PreflightError).message).not.toContain(repl.password);

    // The owner made the publication with the table, and gave it to the role: ready.
    await cluster.sql(`CREATE PUBLICATION ${pub} FOR TABLE theirs, mine`, [], db);
    const stillOwnedByAdmin = await preflight({
      connectionString: cluster.urlFor(db, repl),
      tables: [
        { schema: 'public', table: 'mine' },
        { schema: 'public', table: 'theirs' },
      ],
      publication: pub,
      slot: uniqueName('kuvasz_slot'),
    });
    expect(codes(stillOwnedByAdmin.problems)).toEqual([
      'publication_not_owned',
      'table_not_readable',
    ]);
    await cluster.sql(
      `ALTER PUBLICATION ${pub} OWNER TO ${repl.user}; GRANT SELECT ON theirs TO ${repl.user}`,
      [],
      db,
    );
    const ready = await preflight({
      connectionString: cluster.urlFor(db, repl),
      tables: [
        { schema: 'public', table: 'mine' },
        { schema: 'public', table: 'theirs' },
      ],
      publication: pub,
      slot: uniqueName('kuvasz_slot'),
    });
    expect(ready.problems).toEqual([]);
  });

  test('an unreachable server or a wrong password is a ConnectionError with the URL redacted', async () => {
    const cluster = pgc.get();
    const wrong = cluster.urlFor('postgres', { user: cluster.user, password: 'not-the-password' });
    const e1 = await preflight({
      connectionString: wrong,
      tables: [],
      publication: 'p',
      slot: 's',
    }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ConnectionError);
    expect((e1 as ConnectionError).sqlstate).toBe('28P01');
    expect((e1 as ConnectionError).message).toContain(':***@');
    expect((e1 as ConnectionError).message).not.toContain('not-the-password');
    expect((e1 as ConnectionError).message).toContain('password');

    const closed = `postgres://u:secret@127.0.0.1:1/db`;
    const e2 = await preflight({
      connectionString: closed,
      tables: [],
      publication: 'p',
      slot: 's',
    }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(ConnectionError);
    expect((e2 as ConnectionError).message).toContain('postgres://u:***@127.0.0.1:1/db');
    expect((e2 as ConnectionError).message).toContain('is the server running');
    expect((e2 as ConnectionError).message).not.toContain('secret');
  });
});

describe('server settings (dedicated PostgreSQL 17 clusters)', () => {
  test("wal_level = 'replica' is a problem naming the setting", async () => {
    const cluster = await startPostgres({ version: 17, settings: { wal_level: 'replica' } });
    try {
      const report = await preflight({
        connectionString: cluster.url,
        tables: [],
        publication: 'p',
        slot: 'kuvasz_x_1',
      });
      expect(codes(report.problems)).toEqual(['wal_level']);
      expect(report.problems[0]?.message).toContain('wal_level = logical');
      expect(report.problems[0]?.context).toMatchObject({ value: 'replica' });
    } finally {
      await cluster.stop();
    }
  });

  test('no free replication slot and no free WAL sender', async () => {
    const cluster = await startPostgres({
      version: 17,
      settings: { max_replication_slots: 1, max_wal_senders: 1 },
    });
    let held: ReplicationConnection | undefined;
    try {
      await cluster.sql("SELECT pg_create_logical_replication_slot('someone_else', 'pgoutput')");
      held = await ReplicationConnection.open(cluster.url);
      const report = await preflight({
        connectionString: cluster.url,
        tables: [],
        publication: 'p',
        slot: 'kuvasz_x_1',
      });
      expect(codes(report.problems)).toEqual(['no_free_replication_slot', 'no_free_wal_sender']);
      const slots = report.problems.find((p) => p.code === 'no_free_replication_slot');
      expect(slots?.message).toContain('max_replication_slots = 1');
      expect(slots?.message).toContain('someone_else');
      // The slot that exists is ours: no slot needed; and with the sender free again, ready.
      await held.close();
      held = undefined;
      const ours = await preflight({
        connectionString: cluster.url,
        tables: [],
        publication: 'p',
        slot: 'someone_else',
      });
      expect(ours.problems).toEqual([]);
      expect(codes(ours.warnings)).toEqual(['wal_senders_low']);
    } finally {
      await held?.close();
      await cluster.sql("SELECT pg_drop_replication_slot('someone_else')").catch(() => {});
      await cluster.stop();
    }
  });
});
