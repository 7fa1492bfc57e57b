/**
 * Source schema changes under load never stall a source (issue: in 2 of 4
 * tries with one worker, the row written after a DROP COLUMN never arrived
 * and SIGTERM hung). With the application writing all along: a column added
 * on the source (ignored, reported once), then added to the target (filled
 * from then on, no restart), dropped on the source (the target's default
 * from then on), a column renamed, a type widened, then a type the target
 * cannot take (the source stops naming the column and the fix, and resumes
 * once the target is altered). After each step a marker row must arrive;
 * at the end SIGTERM exits 0 promptly. PG 14 and 17 sources, 1 and 4 workers;
 * KUVASZ_E2E_SCHEMA_REPEAT runs each combination that many times.
 */
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres, waitFor } from '@kuvasz/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { assertNoLeftovers, type Db } from './checks.js';
import { runCli } from './cli.js';
import { assertNoSecrets, killAll, startRun, tempDir, writeConfig } from './harness.js';
import { Workload } from './workload.js';

const REPEAT = Number(process.env.KUVASZ_E2E_SCHEMA_REPEAT ?? 1);

let dstPg: PgCluster;
const sources = new Map<number, PgCluster>();

beforeAll(async () => {
  const [d, s14, s17] = await Promise.all([
    startPostgres({ version: 17 }),
    startPostgres({ version: 14 }),
    startPostgres({ version: 17 }),
  ]);
  dstPg = d;
  sources.set(14, s14);
  sources.set(17, s17);
});

afterAll(async () => {
  await killAll();
  await Promise.all([dstPg, ...sources.values()].map((c) => c?.stop()));
});

const combos = [14, 17].flatMap((version) =>
  [1, 4].flatMap((workers) =>
    Array.from({ length: REPEAT }, (_, run) => ({ version, workers, run })),
  ),
);

describe.each(combos)(
  'PG $version source, $workers worker(s), run $run',
  ({ version, workers }) => {
    test('add, fill, drop, rename, widen, refuse: every change arrives, the source never stalls', async () => {
      const srcPg = sources.get(version)!;
      const src: Db = { cluster: srcPg, db: await srcPg.createDatabase() };
      const dst: Db = { cluster: dstPg, db: await dstPg.createDatabase() };
      await srcPg.sql(
        `CREATE TABLE items (id int PRIMARY KEY, a int NOT NULL, note text, n int NOT NULL DEFAULT 0);
       INSERT INTO items SELECT g, g, 'seed' FROM generate_series(1, 100) g;`,
        [],
        src.db,
      );
      await dstPg.sql(
        'CREATE TABLE items (id int PRIMARY KEY, a int NOT NULL, note text, n int NOT NULL DEFAULT 0)',
        [],
        dst.db,
      );
      const config = writeConfig(
        tempDir(),
        'schema.yaml',
        `destination: { url: "${dstPg.urlFor(dst.db)}" }
databases:
  - database: app
    urls: [{ url: "${srcPg.urlFor(src.db)}", sid: s${version}w${workers} }]
    tables:
      items:
apply: { workers: ${workers} }
`,
      );
      const cli = startRun(config);
      // The application writes all along, never naming the columns that change.
      const work = new Workload(srcPg, src.db, async (c, i) => {
        await c.query('INSERT INTO items (id, a) VALUES ($1, $2)', [1000 + i, i]);
        await c.query('UPDATE items SET n = n + 1 WHERE id = $1', [1 + (i % 100)]);
      });
      let marker = 100_000;
      /** Writes a marker row with `sql`'s extra columns and waits for it in the destination. */
      const arrives = async (what: string, cols = '', vals = '', check = 'true'): Promise<void> => {
        marker++;
        await srcPg.sql(
          `INSERT INTO items (id, a${cols}) VALUES (${marker}, 0${vals})`,
          [],
          src.db,
        );
        await waitFor(
          async () =>
            (
              await dstPg.sql<{ ok: boolean }>(
                `SELECT (${check}) AS ok FROM items WHERE id = ${marker}`,
                [],
                dst.db,
              )
            )[0]?.ok === true,
          {
            timeoutMs: 30_000,
            message: `marker ${marker} after: ${what}; log: ${cli.stderr.slice(-1500)}`,
          },
        );
      };
      try {
        await cli.waitForLog('streaming');
        await arrives('start');

        // A source column the target does not have: ignored, reported once.
        await srcPg.sql("ALTER TABLE items ADD COLUMN b text DEFAULT 'src'", [], src.db);
        await arrives('ADD COLUMN on the source', ', b', ", 'b1'");
        await arrives('ADD COLUMN on the source, again', ', b', ", 'b2'");
        expect(
          cli.logs().filter((l) => /not in the target/.test(String(l.msg))).length,
          cli.stderr.slice(-2000),
        ).toBe(1);

        // The target gains the column: filled from then on, without a restart.
        await dstPg.sql('ALTER TABLE items ADD COLUMN b text', [], dst.db);
        await cli.waitForLog(/target table changed/, 15_000);
        await arrives('ADD COLUMN on the target', ', b', ", 'b3'", "b = 'b3'");

        // Dropped on the source: new rows get the target's default (NULL here).
        await srcPg.sql('ALTER TABLE items DROP COLUMN b', [], src.db);
        await arrives('DROP COLUMN on the source', '', '', 'b IS NULL');

        // Renamed on the source: the new name is not in the target, the old one keeps its default.
        await srcPg.sql('ALTER TABLE items RENAME COLUMN note TO remark', [], src.db);
        await arrives('RENAME COLUMN', ', remark', ", 'r'", 'note IS NULL');

        // Widened: the target's int still takes the values.
        await srcPg.sql('ALTER TABLE items ALTER COLUMN a TYPE bigint', [], src.db);
        await arrives('ALTER TYPE int -> bigint');

        // A type the target cannot take: the source stops naming the column and the fix.
        await srcPg.sql('ALTER TABLE items ALTER COLUMN a TYPE text', [], src.db);
        marker++;
        await srcPg.sql(`INSERT INTO items (id, a) VALUES (${marker}, 'not a number')`, [], src.db);
        await cli.waitForLog(/source failed \(apply\)/, 30_000);
        const failure = cli.logs().find((l) => /source failed \(apply\)/.test(String(l.msg)));
        const message = String((failure?.err as { message?: string } | undefined)?.message);
        expect(message).toMatch(/column a/);
        expect(message).toMatch(/ALTER TABLE public\.items ALTER COLUMN a TYPE text/);
        await dstPg.sql('ALTER TABLE items ALTER COLUMN a TYPE text', [], dst.db);
        await waitFor(
          async () =>
            (await dstPg.sql(`SELECT 1 FROM items WHERE id = ${marker}`, [], dst.db)).length === 1,
          { timeoutMs: 60_000, message: 'the refused row after the target was fixed' },
        );
        await arrives('the fix');

        await work.stop();
        // Everything the source has, the destination has (on the columns both have).
        await waitFor(
          async () => {
            const q = 'SELECT id, a::text, n FROM items ORDER BY id';
            const [s, d] = await Promise.all([srcPg.sql(q, [], src.db), dstPg.sql(q, [], dst.db)]);
            return JSON.stringify(s) === JSON.stringify(d);
          },
          { timeoutMs: 30_000, message: 'all rows' },
        );
      } finally {
        await work.stop().catch(() => undefined);
        const t0 = Date.now();
        const res = await cli.stop('SIGTERM', 40_000);
        expect(res.code, cli.stderr.slice(-2000)).toBe(0);
        expect(Date.now() - t0).toBeLessThan(35_000);
        assertNoSecrets(cli.output, [srcPg, dstPg]);
      }
      expect(runCli(['teardown', '-c', config, '--yes']).status).toBe(0);
      await assertNoLeftovers([srcPg]);
    }, 240_000);
  },
);
