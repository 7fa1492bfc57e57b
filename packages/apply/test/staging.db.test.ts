/**
 * Large batches of updates and deletes go through a staging table (COPY,
 * then the set-based statement, in one message). Checked here: a
 * transaction that stages into the same table twice empties it between the
 * two uses; the table is a temporary one, left to the session; and a role
 * without the TEMP privilege gets the inline statements instead, said once
 * at start.
 */
import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { withInternals } from '../src/engine.js';
import { ApplyEngine, type RowChange } from '../src/index.js';
import {
  captureLogger,
  del,
  harness,
  ins,
  mapping,
  pushAll,
  rel,
  S1,
  txs,
  upd,
} from './helpers.js';

const DDL = 'CREATE TABLE t (sid text NOT NULL, id int NOT NULL, v text, PRIMARY KEY (sid, id))';
const t = rel('t', [['id', true], 'v']);
const ids = Array.from({ length: 150 }, (_, i) => String(i + 1));

/** 150 rows, then in one transaction: update all, delete all, insert them again, update all again. */
const script = (): RowChange[][] => [
  ids.map((id) => ins(t, [id, 'new'])),
  [
    ...ids.map((id) => upd(t, [id, 'first'])),
    ...ids.map((id) => del(t, { key: [id, null] })),
    ...ids.map((id) => ins(t, [id, 'again'])),
    ...ids.map((id) => upd(t, [id, `last ${id}`])),
  ],
];

describe.each(testedVersions())('staging tables on PG %i', (version) => {
  const pgc = useCluster({ version });

  test('two staged batches into one table in one transaction: the second sees only its rows', async () => {
    const h = await harness(pgc.get(), DDL);
    try {
      const e = await h.engine({ tables: [mapping('t', 'clone')], stageMinRows: 100 });
      await pushAll(e, txs(S1, 1000n, script()));
      await e.flush();
      expect(e.sourceStatus(S1).state).toBe('running');
      const rows = await h.rows<{ id: number; v: string }>('SELECT id, v FROM t ORDER BY id');
      expect(rows).toEqual(ids.map((id) => ({ id: Number(id), v: `last ${id}` })));
      expect(e.stats().filter((s) => s.result !== 'ok')).toEqual([]);
      // Temporary, kept by the session for the next transaction.
      const staged = await h.rows<{ persistence: string }>(
        "SELECT relpersistence AS persistence FROM pg_class WHERE relname LIKE 'kvsz_s_%'",
      );
      expect(staged.length).toBeGreaterThan(0);
      expect(new Set(staged.map((r) => r.persistence))).toEqual(new Set(['t']));
    } finally {
      await h.close();
    }
  });

  test('without the TEMP privilege the batch goes inline, and the start says how to grant it', async () => {
    const cluster = pgc.get();
    const h = await harness(cluster, DDL);
    const role = `kv_notemp_${version}`;
    await h.rows(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
    await h.rows(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
    await h.rows(`GRANT CREATE, CONNECT ON DATABASE "${h.db}" TO ${role}`);
    await h.rows(`REVOKE TEMP ON DATABASE "${h.db}" FROM PUBLIC`);
    await h.rows(`ALTER TABLE t OWNER TO ${role}`);
    await h.rows(`GRANT CREATE, USAGE ON SCHEMA public TO ${role}`);
    const pool = new pg.Pool({
      connectionString: cluster.urlFor(h.db, { user: role, password: 'pw' }),
      max: 4,
    });
    const log = captureLogger();
    const e = new ApplyEngine(
      withInternals(
        {
          destination: pool,
          tables: [mapping('t', 'clone')],
          batchRows: 1000,
          flushIntervalMs: 20,
          logger: log.logger,
        },
        { stageMinRows: 1 },
      ),
    );
    try {
      await e.start();
      await pushAll(e, txs(S1, 1000n, script()));
      await e.flush();
      expect(e.sourceStatus(S1).state).toBe('running');
      const rows = await h.rows<{ id: number; v: string }>('SELECT id, v FROM t ORDER BY id');
      expect(rows).toEqual(ids.map((id) => ({ id: Number(id), v: `last ${id}` })));
      expect(log.lines.filter((l) => l.msg.startsWith('no TEMP privilege'))).toHaveLength(1);
      expect(await h.rows("SELECT relname FROM pg_class WHERE relname LIKE 'kvsz_s_%'")).toEqual(
        [],
      );
    } finally {
      await e.close().catch(() => {});
      await pool.end();
      await h.rows(`GRANT TEMP ON DATABASE "${h.db}" TO PUBLIC`);
      await h.rows(`ALTER TABLE t OWNER TO CURRENT_USER`);
      await h.rows(`REASSIGN OWNED BY ${role} TO CURRENT_USER`);
      await h.rows(`DROP OWNED BY ${role}`);
      await h.close();
      await cluster.sql(`DROP ROLE IF EXISTS ${role}`);
    }
  });
});
