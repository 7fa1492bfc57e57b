import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { SUPPORTED_VERSIONS, startPostgres, testedVersions } from '../src/index.js';

// The tested majors run the full check; the other installed ones prove they start.
const versions = [...new Set([...testedVersions(), ...SUPPORTED_VERSIONS])];

describe.each(versions)('embedded PostgreSQL %i', (version) => {
  test('starts with wal_level=logical and accepts a pgoutput slot over a replication connection', async () => {
    const cluster = await startPostgres({ version });
    try {
      const [row] = await cluster.sql<{ wal_level: string; v: string }>(
        "SELECT current_setting('wal_level') AS wal_level, current_setting('server_version_num') AS v",
      );
      expect(row?.wal_level).toBe('logical');
      expect(Math.floor(Number(row?.v) / 10000)).toBe(version);

      const db = await cluster.createDatabase();
      const repl = new pg.Client({
        connectionString: cluster.urlFor(db),
        replication: 'database',
      } as pg.ClientConfig);
      await repl.connect();
      try {
        const res = await repl.query('CREATE_REPLICATION_SLOT kit_smoke LOGICAL pgoutput');
        expect(res.rows[0]?.slot_name).toBe('kit_smoke');
      } finally {
        await repl.end();
      }
      const slots = await cluster.slots(db);
      expect(slots.map((s) => s.slot_name)).toEqual(['kit_smoke']);
      const [plugin] = await cluster.sql<{ plugin: string }>(
        'SELECT plugin FROM pg_replication_slots WHERE slot_name = $1',
        ['kit_smoke'],
      );
      expect(plugin?.plugin).toBe('pgoutput');
      console.log(
        `PG ${version}: cluster on port ${cluster.port}, wal_level=${row?.wal_level}, pgoutput slot kit_smoke created in ${db}`,
      );
      await cluster.dropSlots(db);
      expect(await cluster.slots(db)).toEqual([]);
    } finally {
      await cluster.stop();
    }
  });
});

test('settings override the defaults', async () => {
  const cluster = await startPostgres({ version: 17, settings: { wal_level: 'replica' } });
  try {
    const [row] = await cluster.sql<{ w: string }>("SELECT current_setting('wal_level') AS w");
    expect(row?.w).toBe('replica');
  } finally {
    await cluster.stop();
  }
});

test('a wrong password is refused (the server really checks passwords)', async () => {
  const cluster = await startPostgres({ version: 17 });
  try {
    const client = new pg.Client({
      connectionString: cluster.urlFor('postgres', { user: 'postgres', password: 'wrong' }),
    });
    await expect(client.connect()).rejects.toThrow(/password authentication failed/);
  } finally {
    await cluster.stop();
  }
});

test('restart keeps data and the port; kill + start recovers', async () => {
  const cluster = await startPostgres({ version: 17 });
  try {
    await cluster.sql('CREATE TABLE t (id int PRIMARY KEY)');
    await cluster.sql('INSERT INTO t VALUES (1)');
    await cluster.restart();
    expect(await cluster.sql('SELECT id FROM t')).toEqual([{ id: 1 }]);
    await cluster.kill();
    await expect(cluster.sql('SELECT 1')).rejects.toThrow();
    await cluster.start();
    expect(await cluster.sql('SELECT id FROM t')).toEqual([{ id: 1 }]);
  } finally {
    await cluster.stop();
  }
});
