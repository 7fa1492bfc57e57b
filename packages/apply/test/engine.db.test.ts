import { waitFor } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { ApplyEngine } from '../src/index.js';
import { harness, ins, mapping, pushAll, rel, S1, txs, upd } from './helpers.js';

describe('engine behaviour (PG 17)', () => {
  const pgc = useCluster({ version: 17 });

  test('synchronous_commit off: durable only after the WAL flush; several workers; re-pushes dropped', async () => {
    const h = await harness(
      pgc.get(),
      'CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text); CREATE TABLE c (id int PRIMARY KEY, v text)',
    );
    try {
      const e = await h.engine({
        tables: [mapping('a', 'clone'), mapping('b', 'clone'), mapping('c', 'clone')],
        workers: 3,
        batchRows: 5,
        synchronousCommit: 'off',
      });
      const ra = rel('a', [['id', true], 'v']);
      const rb = rel('b', [['id', true], 'v']);
      const rc = rel('c', [['id', true], 'v']);
      const list = txs(
        S1,
        1000n,
        Array.from({ length: 30 }, (_, i) => [
          ins(ra, [String(i), 'a']),
          ins(rb, [String(i), 'b']),
          upd(rc, [String(i), 'c']),
        ]),
      );
      const reported: bigint[] = [];
      e.onDurable((_s, lsn) => reported.push(lsn));
      await pushAll(e, list);
      await pushAll(e, list.slice(10)); // a reader replaying after a reconnect
      for (const t of ['a', 'b', 'c'])
        expect(await h.rows(`SELECT count(*)::int AS n FROM ${t}`)).toEqual([{ n: 30 }]);
      expect(reported).toEqual([...reported].sort((x, y) => (x < y ? -1 : 1)));
      expect(reported.at(-1)).toBe(list.at(-1)!.endLsn);
      expect(e.stats().filter((s) => s.result === 'conflict')).toEqual([]);
      expect(e.stats().find((s) => s.table === 'public.c')).toMatchObject({
        operation: 'update',
        result: 'missing',
        count: 30,
      });
    } finally {
      await h.close();
    }
  });

  test('targets the engine fills are analyzed: planner statistics follow the rows added', async () => {
    const h = await harness(
      pgc.get(),
      `CREATE TABLE h (sid text NOT NULL, id int NOT NULL, v text, kvsz_start timestamptz NOT NULL,
         kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL DEFAULT false);
       CREATE UNIQUE INDEX h_open ON h (sid, id) WHERE kvsz_end = '9999-01-01 00:00:00+00';
       CREATE TABLE small (id int PRIMARY KEY, v text);
       CREATE TABLE filled (id int PRIMARY KEY, v text);
       INSERT INTO filled SELECT g, 'x' FROM generate_series(1, 2000) g`,
    );
    const reltuples = async (t: string) =>
      (await h.rows(`SELECT reltuples::float8 AS n FROM pg_class WHERE relname = '${t}'`))[0]?.n;
    try {
      expect(await reltuples('h')).toBe(-1); // never analyzed: what a freshly created target has
      expect(await reltuples('filled')).toBe(-1); // filled (as by the initial copy), never analyzed
      const e = await h.engine({
        tables: [mapping('h', 'history'), mapping('small', 'clone'), mapping('filled', 'clone')],
        batchRows: 500,
      });
      const rh = rel('h', [['id', true], 'v']);
      const rs = rel('small', [['id', true], 'v']);
      const rf = rel('filled', [['id', true], 'v']);
      // One change into the filled table: analyzed before its first batch, not after 1,000 more rows.
      await pushAll(e, txs(S1, 500n, [[upd(rf, ['1', 'y'])]]));
      expect(await reltuples('filled')).toBe(2000);
      await pushAll(
        e,
        txs(
          S1,
          1000n,
          Array.from({ length: 300 }, (_, i) => [
            ...Array.from({ length: 10 }, (_, j) => ins(rh, [String(i * 10 + j), 'x'])),
            ...(i < 20 ? [ins(rs, [String(i), 'y'])] : []),
          ]),
        ),
      );
      expect(await h.rows('SELECT count(*)::int AS n FROM h')).toEqual([{ n: 3000 }]);
      // ANALYZE runs beside the workers; close() waits for it.
      await e.close();
      // Analyzed at least once on the way (at 1,000 rows, again past half as many more).
      expect(await reltuples('h')).toBeGreaterThanOrEqual(1000);
      // 20 rows: not worth a sample; autovacuum's business.
      expect(await reltuples('small')).toBe(-1);
    } finally {
      await h.close();
    }
  });

  test('by default nothing waits: each change pushed alone is applied without a flush', async () => {
    const h = await harness(pgc.get(), 'CREATE TABLE a (id int PRIMARY KEY, v text)');
    try {
      const e = await h.engine({ tables: [mapping('a', 'clone')] });
      const ra = rel('a', [['id', true], 'v']);
      for (let i = 0; i < 5; i++) {
        // push, not pushAll: no flush() to force the group out.
        for (const t of txs(S1, 1000n + BigInt(i) * 100n, [[ins(ra, [String(i), 'x'])]]))
          await e.push(t);
        await waitFor(
          async () => (await h.rows('SELECT 1 FROM a WHERE id = $1', [i])).length === 1,
          { timeoutMs: 10_000, message: `change ${i} applied` },
        );
      }
    } finally {
      await h.close();
    }
  });

  test('with a flush interval, a partial group waits for more: changes close together share a destination transaction', async () => {
    const h = await harness(pgc.get(), 'CREATE TABLE a (id int PRIMARY KEY, v text)');
    try {
      const e = await h.engine({ tables: [mapping('a', 'clone')], flushIntervalMs: 3_000 });
      const ra = rel('a', [['id', true], 'v']);
      const push = async (i: number) => {
        for (const t of txs(S1, 1000n + BigInt(i) * 100n, [[ins(ra, [String(i), 'x'])]]))
          await e.push(t);
      };
      // The first is applied at once (nothing known about the source's pace yet).
      await push(0);
      await waitFor(async () => (await h.rows('SELECT 1 FROM a')).length === 1, {
        timeoutMs: 10_000,
        message: 'first change applied',
      });
      const groups = e.metrics().groups;
      // The next ones come close together: they wait for the interval, then go as one group.
      for (let i = 1; i <= 5; i++) await push(i);
      await waitFor(async () => (await h.rows('SELECT 1 FROM a')).length === 6, {
        timeoutMs: 15_000,
        message: 'the waiting group applied',
      });
      expect(e.metrics().groups - groups).toBe(1);
    } finally {
      await h.close();
    }
  });

  test('a transaction in parts is visible and reported durable only whole, after its final part', async () => {
    const h = await harness(pgc.get(), 'CREATE TABLE a (id int PRIMARY KEY, v text)');
    try {
      const e = await h.engine({ tables: [mapping('a', 'clone')], batchRows: 2 });
      const r = rel('a', [['id', true], 'v']);
      const reported: bigint[] = [];
      e.onDurable((_s, lsn) => reported.push(lsn));
      const base = {
        source: S1,
        commitLsn: 5000n,
        endLsn: 5010n,
        commitTime: '2024-01-01 00:00:00+00',
      };
      await e.push({
        ...base,
        changes: [ins(r, ['1', 'x']), ins(r, ['2', 'x']), ins(r, ['3', 'x'])],
        final: false,
      });
      await e.flush();
      // The first part is applied in a destination transaction that stays open.
      await waitFor(async () => e.metrics().queuedChanges === 0, { timeoutMs: 5000 });
      expect(await h.rows('SELECT count(*)::int AS n FROM a')).toEqual([{ n: 0 }]);
      expect(reported).toEqual([]);
      await e.push({ ...base, changes: [ins(r, ['4', 'x'])], firstChangeIndex: 3, final: true });
      await e.flush();
      expect(reported).toEqual([5010n]);
      expect(await h.rows('SELECT count(*)::int AS n FROM a')).toEqual([{ n: 4 }]);
      await expect(
        e.push({ ...base, commitLsn: 'x' as unknown as bigint, changes: [] }),
      ).rejects.toMatchObject({ code: 'invalid_input' });
    } finally {
      await h.close();
    }
  });

  test('a transaction in parts larger than the queue limit: each push returns as its part is taken, the whole commits once', async () => {
    const h = await harness(pgc.get(), 'CREATE TABLE a (id int PRIMARY KEY, v text)');
    try {
      const e = await h.engine({
        tables: [mapping('a', 'clone')],
        batchRows: 10,
        maxPendingRows: 20,
      });
      const r = rel('a', [['id', true], 'v']);
      const parts = 6;
      const size = 500;
      for (let p = 0; p < parts; p++) {
        await e.push({
          source: S1,
          commitLsn: 7000n,
          endLsn: 7010n,
          commitTime: '2024-01-01 00:00:00+00',
          firstChangeIndex: p * size,
          final: p === parts - 1,
          changes: Array.from({ length: size }, (_, k) => ins(r, [String(p * size + k), 'x'])),
        });
      }
      await e.flush();
      expect(await h.rows('SELECT count(*)::int AS n FROM a')).toEqual([{ n: parts * size }]);
      expect(e.metrics().groups).toBe(1);
    } finally {
      await h.close();
    }
  });

  test('bad options and use before start are typed errors', async () => {
    const h = await harness(pgc.get(), 'SELECT 1');
    try {
      expect(() => new ApplyEngine({ destination: h.pool, tables: [], workers: 0 })).toThrow(
        /workers must be a positive integer/,
      );
      const e = new ApplyEngine({ destination: h.pool, tables: [] });
      await expect(
        e.push({ source: S1, commitLsn: 1n, commitTime: 'now', changes: [] }),
      ).rejects.toMatchObject({ code: 'engine_state' });
    } finally {
      await h.close();
    }
  });
});
