import { useCluster } from '@kuvasz/testkit/vitest';
import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { withInternals } from '../src/engine.js';
import { ApplyEngine, type SourceTransaction, type StatEntry } from '../src/index.js';
import { del, ins, mapping, rel, S1, S2, txs, upd } from './helpers.js';

const DDL = `
CREATE TABLE c (sid text NOT NULL, id int NOT NULL, v text, PRIMARY KEY (sid, id));
CREATE TABLE hh (sid text NOT NULL, id int NOT NULL, v text,
  kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL DEFAULT false);
CREATE UNIQUE INDEX hh_open ON hh (sid, id) WHERE kvsz_end = '9999-01-01 00:00:00+00';`;

const DUMP = `SELECT 'c' AS t, sid, id, v, NULL AS s, NULL AS e, NULL AS d FROM c
  UNION ALL SELECT 'h', sid, id, v, kvsz_start::text, kvsz_end::text, kvsz_deleted::text FROM hh
  ORDER BY 1, 2, 3, 5, 6`;

function workload(): SourceTransaction[] {
  const rc = rel('c', [['id', true], 'v']);
  const rh = rel('hh', [['id', true], 'v']);
  const list: SourceTransaction[] = [];
  for (const source of [S1, S2]) {
    const changes = [];
    for (let i = 0; i < 24; i++) {
      const k = String(i % 6);
      const step = Math.floor(i / 6);
      const tx =
        step === 0
          ? [ins(rc, [k, `v${i}`]), ins(rh, [k, `v${i}`])]
          : step === 1
            ? [upd(rc, [k, `v${i}`]), upd(rh, [k, `v${i}`]), upd(rh, [k, `w${i}`])]
            : step === 2 && i % 2 === 0
              ? [del(rc, { key: [k, null] }), del(rh, { key: [k, null] })]
              : [
                  upd(rc, [String(Number(k) + 10), `k${i}`], { key: [k, null] }),
                  upd(rh, [String(Number(k) + 10), `k${i}`], { key: [k, null] }),
                ];
      changes.push(tx);
    }
    list.push(...txs(source, 1000n, changes));
  }
  // Interleave the two sources, as two streams would arrive.
  return list.map((_, i) => list[(i % 2) * 24 + Math.floor(i / 2)]!);
}

const STEPS = ['planned', 'statement', 'before-commit', 'after-commit'] as const;

/**
 * A second workload for the paths taken on conflicts: inserts of keys that
 * exist (the COPY in its savepoint fails, the conflict-detecting INSERT runs),
 * updates and deletes of missing keys (history: versions opened anyway).
 */
const PRESET = `INSERT INTO c VALUES ('1', 100, 'pre'), ('2', 100, 'pre'), ('1', 101, 'pre');
INSERT INTO hh VALUES ('1', 100, 'pre', '1900-01-01+00', '9999-01-01+00', false),
  ('2', 100, 'pre', '1900-01-01+00', '9999-01-01+00', false);`;

function conflicts(): SourceTransaction[] {
  const rc = rel('c', [['id', true], 'v']);
  const rh = rel('hh', [['id', true], 'v']);
  const list: SourceTransaction[] = [];
  for (const source of [S1, S2]) {
    const changes = [];
    for (let i = 0; i < 24; i++) {
      const k = String(i % 4);
      changes.push(
        i % 4 === 0
          ? [ins(rc, ['100', `dup${i}`]), ins(rh, ['100', `dup${i}`]), ins(rc, [k, `v${i}`])]
          : i % 4 === 1
            ? [upd(rc, [String(200 + i), `m${i}`]), upd(rh, [String(200 + i), `m${i}`])]
            : i % 4 === 2
              ? [ins(rc, [String(300 + i), `n${i}`]), ins(rh, [String(300 + i), `n${i}`])]
              : [del(rc, { key: [String(900 + i), null] }), del(rh, { key: ['101', null] })],
      );
    }
    list.push(...txs(source, 1000n, changes));
  }
  return list.map((_, i) => list[(i % 2) * 24 + Math.floor(i / 2)]!);
}

describe('crash points', () => {
  const pgc = useCluster({ version: 17 });
  const options = {
    tables: [mapping('c', 'clone'), mapping('hh', 'history')],
    workers: 2,
    batchRows: 7,
    flushIntervalMs: 5,
  };

  const run = async (
    db: string,
    list: SourceTransaction[],
    hook?: (name: string) => void,
  ): Promise<{ crashed: boolean; durable: Map<string, bigint>; stats: StatEntry[] }> => {
    const cluster = pgc.get();
    const pool = new pg.Pool({ connectionString: cluster.urlFor(db), max: 4 });
    pool.on('error', () => {});
    const durable = new Map<string, bigint>();
    const engine = new ApplyEngine(
      withInternals({ destination: pool, ...options }, hook ? { testHooks: { step: hook } } : {}),
    );
    await engine.start();
    engine.onDurable((s, lsn) => durable.set(s.sid, lsn));
    let crashed = false;
    try {
      for (const tx of list) await engine.push(tx);
      await engine.flush();
    } catch {
      crashed = true;
    }
    await engine.close();
    await pool.end();
    return { crashed, durable, stats: engine.stats() };
  };

  /** Crashes at a spread of occurrences of every step, replays, compares; returns the cases run. */
  const crashAndReplay = async (
    list: SourceTransaction[],
    ddl: string,
  ): Promise<{ cases: number; stats: StatEntry[] }> => {
    const cluster = pgc.get();
    const refDb = await cluster.createDatabase();
    await cluster.sql(ddl, [], refDb);
    const counts = new Map<string, number>();
    const { stats } = await run(refDb, list, (name) =>
      counts.set(name, (counts.get(name) ?? 0) + 1),
    );
    const expected = await cluster.sql(DUMP, [], refDb);
    expect(expected.length).toBeGreaterThan(40);
    // Batches form as timing allows, so runs differ in how many they make:
    // crash points are taken below the fewest of three runs.
    for (let i = 0; i < 2; i++) {
      const more = new Map<string, number>();
      const db = await cluster.createDatabase();
      await cluster.sql(ddl, [], db);
      await run(db, list, (name) => more.set(name, (more.get(name) ?? 0) + 1));
      for (const [name, n] of counts) counts.set(name, Math.min(n, more.get(name) ?? 0));
    }

    let cases = 0;
    for (const step of STEPS) {
      const total = counts.get(step) ?? 0;
      expect(total).toBeGreaterThan(0);
      // Every occurrence for the rare steps, a spread for 'statement'.
      const stride = Math.max(1, Math.floor(total / 12));
      for (let k = 1; k <= total; k += stride) {
        let db = '';
        let first: Awaited<ReturnType<typeof run>> | undefined;
        // A run may still make fewer batches: run again until the crash point is reached.
        for (let attempt = 0; attempt < 5 && !first?.crashed; attempt++) {
          db = await cluster.createDatabase();
          await cluster.sql(ddl, [], db);
          let seen = 0;
          first = await run(db, list, (name) => {
            if (name === step && ++seen === k) throw new Error(`crash at ${step} #${k}`);
          });
        }
        expect(first?.crashed, `${step} #${k}`).toBe(true);
        // Replay: alternately from the start of the stream, and from what was reported durable.
        const fromStart = cases % 2 === 0;
        const pool = new pg.Pool({ connectionString: cluster.urlFor(db), max: 4 });
        const engine = new ApplyEngine({ destination: pool, ...options });
        await engine.start();
        for (const tx of list) {
          const d = first?.durable.get(tx.source.sid);
          if (!fromStart && d !== undefined && tx.endLsn! <= d) continue;
          await engine.push(tx);
        }
        await engine.flush();
        expect(engine.sourceStatus(S1).state).toBe('running');
        expect(engine.sourceStatus(S2).state).toBe('running');
        await engine.close();
        await pool.end();
        expect(
          await cluster.sql(DUMP, [], db),
          `${step} #${k} (replay from ${fromStart ? 'start' : 'durable'})`,
        ).toEqual(expected);
        cases++;
      }
    }
    return { cases, stats };
  };

  test('killing the applier between any two steps of a batch and replaying gives the uninterrupted result', async () => {
    expect((await crashAndReplay(workload(), DDL)).cases).toBeGreaterThan(20);
  }, 300_000);

  test('the same with conflicts: COPY rolled back to its savepoint, missing rows, history versions opened anyway', async () => {
    const { cases, stats } = await crashAndReplay(conflicts(), `${DDL} ${PRESET}`);
    expect(cases).toBeGreaterThan(20);
    const count = (table: string, op: string, result: string) =>
      stats
        .filter((s) => s.table === table && s.operation === op && s.result === result)
        .reduce((n, s) => n + s.count, 0);
    for (const table of ['public.c', 'public.hh']) {
      expect(count(table, 'insert', 'conflict'), table).toBeGreaterThan(5);
      expect(count(table, 'update', 'missing'), table).toBe(12);
      expect(count(table, 'delete', 'missing'), table).toBe(12);
    }
  }, 300_000);
});
