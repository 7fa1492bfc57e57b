/**
 * docs/postgres-setup.md's least-privilege recipe, run as written: its SQL
 * blocks are read from the document, so the doc and the test cannot drift.
 * A source role that is not a superuser and owns no table, a destination
 * role with exactly the documented grants: `validate`, `plan --apply`,
 * `run` (initial copy, then changes) and `teardown` work. While it runs,
 * `status --json` and `/api/status` return one document, valid against the
 * JSON Schema the streamer serves, with LSNs as X/Y.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres, testedVersions, waitFor } from '@kuvasz/testkit';
import { afterAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { assertNoLeftovers, type Db, waitForSame } from './checks.js';
import { runCli } from './cli.js';
import { assertNoSecrets, freePort, killAll, startRun, tempDir, writeConfig } from './harness.js';

const DOC = path.resolve(import.meta.dirname, '..', 'docs', 'postgres-setup.md');
const LSN = /^[0-9A-F]+\/[0-9A-F]+$/;

/** The doc's SQL blocks whose first line is `-- <side>: ...`, in order. */
function documentedSql(side: 'source' | 'destination', password: string): string[] {
  const blocks = [...readFileSync(DOC, 'utf8').matchAll(/```sql\n([\s\S]*?)```/g)].map(
    (m) => m[1]!,
  );
  return blocks
    .filter((b) => b.startsWith(`-- ${side}:`))
    .map((b) => b.replaceAll("PASSWORD '...'", `PASSWORD '${password}'`));
}

const clusters: PgCluster[] = [];
afterAll(async () => {
  await killAll();
  await Promise.all(clusters.map((c) => c.stop()));
});

describe.each(testedVersions())('PostgreSQL %i', (version) => {
  test('the documented roles and grants: validate, plan --apply, run, status, teardown', async () => {
    const [srcPg, dstPg] = await Promise.all([
      startPostgres({ version }),
      startPostgres({ version }),
    ]);
    clusters.push(srcPg, dstPg);
    const src: Db = { cluster: srcPg, db: await srcPg.createDatabase('orders') };
    const dst: Db = { cluster: dstPg, db: await dstPg.createDatabase('warehouse') };
    // The tables belong to the superuser, as an application's would to its own role.
    await srcPg.sql(
      `CREATE TABLE customers (id int PRIMARY KEY, name text);
       CREATE TABLE events (id bigint PRIMARY KEY, customer int, kind text);
       CREATE TABLE prices (sku text PRIMARY KEY, cents int);
       INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 50) g;
       INSERT INTO prices VALUES ('a', 100), ('b', 250);`,
      [],
      src.db,
    );
    const replPw = 'repl-Pw-7d1e';
    const writerPw = 'writer-Pw-93ac';
    const sourceSql = documentedSql('source', replPw);
    const destSql = documentedSql('destination', writerPw);
    expect(sourceSql).toHaveLength(2);
    expect(destSql).toHaveLength(1);
    for (const sql of sourceSql) await srcPg.sql(sql, [], src.db);
    for (const sql of destSql) await dstPg.sql(sql, [], dst.db);
    const [role] = await srcPg.sql<{ rolsuper: boolean }>(
      "SELECT rolsuper FROM pg_roles WHERE rolname = 'kuvasz_repl'",
    );
    expect(role?.rolsuper).toBe(false);

    const port = await freePort();
    const dir = tempDir('kvsz-lp-');
    const config = writeConfig(
      dir,
      'least.yaml',
      `destination: { url: "${dstPg.urlFor(dst.db, { user: 'kuvasz_writer', password: writerPw })}" }
databases:
  - database: orders
    urls:
      - { url: "${srcPg.urlFor(src.db, { user: 'kuvasz_repl', password: replPw })}", sid: tenant1 }
    tables: { customers: , events: , prices: { type: history } }
apply: { flush_interval_ms: 100 }
http: { listen: "127.0.0.1:${port}" }
`,
    );

    const plan = runCli(['plan', '-c', config, '--apply']);
    expect(plan.status, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/-- applied 3 table definition\(s\)/);
    const validate = runCli(['validate', '-c', config]);
    expect(validate.status, `${validate.stdout}\n${validate.stderr}`).toBe(0);

    const cli = startRun(config);
    await cli.waitForLog('streaming');
    await srcPg.sql(
      `INSERT INTO customers VALUES (51, 'new'); UPDATE customers SET name = 'changed' WHERE id = 1;
       INSERT INTO events VALUES (1, 51, 'signup'); UPDATE prices SET cents = 120 WHERE sku = 'a';`,
      [],
      src.db,
    );
    await waitForSame(src, 'SELECT * FROM customers', dst, 'SELECT id, name FROM customers');
    await waitForSame(src, 'SELECT * FROM events', dst, 'SELECT id, customer, kind FROM events');
    await waitFor(
      async () =>
        (await dstPg.sql<{ n: number }>('SELECT count(*)::int AS n FROM prices', [], dst.db))[0]
          ?.n === 3,
      { timeoutMs: 30_000, message: 'the history of prices: 2 versions of a, 1 of b' },
    );

    // One status document: the API (live) and the command (what run stored) agree
    // once run has stored its counters (every 10 s).
    const api = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/api/status`);
      expect(res.status).toBe(200);
      return (await res.json()) as StatusDoc;
    };
    const command = () => {
      const res = runCli(['status', '-c', config, '--json']);
      expect(res.status, res.stderr).toBe(0);
      return JSON.parse(res.stdout) as StatusDoc;
    };
    const stable = (d: StatusDoc) =>
      d.sources.map((s) => ({
        ...s,
        updatedAt: undefined,
        lagSeconds: undefined,
        receivedLsn: undefined,
        health: { ...s.health, lagBytes: undefined, retainedWalBytes: undefined },
      }));
    const [fromApi, fromCommand] = await waitFor(
      async () => {
        const [a, c] = [await api(), command()];
        return JSON.stringify(stable(a)) === JSON.stringify(stable(c)) ? [a, c] : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 1000, message: 'status --json to equal /api/status' },
    );
    // Both documents are valid against the JSON Schema that run serves (and status-schema prints).
    const served = (await (
      await fetch(`http://127.0.0.1:${port}/api/status/schema`)
    ).json()) as z.core.JSONSchema.JSONSchema;
    expect(served).toEqual(JSON.parse(runCli(['status-schema']).stdout));
    const validator = z.fromJSONSchema(served);
    for (const doc of [fromApi!, fromCommand!]) {
      const checked = validator.safeParse(doc);
      expect(checked.error?.issues ?? []).toEqual([]);
    }
    for (const doc of [fromApi!, fromCommand!]) {
      expect(Object.keys(doc).sort()).toEqual(['fleet', 'generatedAt', 'sources']);
      // No fleet configured: no lease and no fleet part.
      expect(doc.fleet).toBeNull();
      const s = doc.sources[0]!;
      expect(s.lease).toBeNull();
      expect(s).toMatchObject({ sid: 'tenant1', state: 'streaming', lastError: null });
      for (const v of [s.receivedLsn, s.flushedLsn, s.health.confirmedFlushLsn])
        expect(v).toMatch(LSN);
      expect(s.tables.find((t) => t.source === 'public.customers')).toMatchObject({
        syncStatus: 'done',
        rowsSynced: 50,
        applied: { insert: 1, update: 1 },
      });
    }
    expect(Object.keys(fromApi!.sources[0]!).sort()).toEqual(
      Object.keys(fromCommand!.sources[0]!).sort(),
    );
    assertNoSecrets(`${cli.output}\n${JSON.stringify(fromApi)}`, [srcPg, dstPg]);
    expect(cli.output).not.toContain(replPw);

    expect((await cli.stop()).code).toBe(0);
    const down = runCli(['teardown', '-c', config, '--yes']);
    expect(down.status, down.stdout).toBe(0);
    await assertNoLeftovers([srcPg, dstPg]);
  });
});

interface StatusDoc {
  generatedAt: string;
  fleet: unknown;
  sources: {
    sid: string;
    state: string;
    lease: unknown;
    lastError: unknown;
    updatedAt: string | null;
    lagSeconds: number | null;
    receivedLsn: string | null;
    flushedLsn: string | null;
    health: {
      confirmedFlushLsn: string | null;
      lagBytes: number | null;
      retainedWalBytes: number | null;
    };
    tables: {
      source: string;
      syncStatus: string;
      rowsSynced: number;
      applied: Record<string, number>;
    }[];
  }[];
}
