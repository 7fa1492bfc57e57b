import { testedVersions, waitFor } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { ApplyError, type SourceTransaction, UNCHANGED } from '../src/index.js';
import {
  captureLogger,
  del,
  harness,
  ins,
  mapping,
  pushAll,
  rel,
  S1,
  S2,
  txs,
  upd,
} from './helpers.js';

const DDL =
  'CREATE TABLE t (sid text NOT NULL, id int NOT NULL, v text NOT NULL, PRIMARY KEY (sid, id))';

describe.each(testedVersions())('errors on PG %i', (version) => {
  const pgc = useCluster({ version });

  test('a rejected change stops its source before its transaction; the other source goes on; nothing lost after the fix', async () => {
    const h = await harness(pgc.get(), DDL);
    try {
      const e = await h.engine({
        tables: [mapping('t', 'clone')],
        batchRows: 10_000,
        flushIntervalMs: 50,
      });
      const r = rel('t', [['id', true], 'v']);
      const s1 = txs(S1, 1000n, [
        [ins(r, ['1', 'a']), ins(r, ['2', 'b']), ins(r, ['3', 'c'])],
        [ins(r, ['4', 'd']), ins(r, ['5', null]), ins(r, ['6', 'f'])],
        [ins(r, ['7', 'g'])],
      ]);
      const s2 = txs(S2, 1000n, [[ins(r, ['1', 'x'])], [ins(r, ['2', 'y'])], [ins(r, ['3', 'z'])]]);
      const durable: bigint[] = [];
      e.onDurable((s, lsn) => s.sid === '1' && durable.push(lsn));
      for (let i = 0; i < 3; i++) {
        await e.push(s1[i]!);
        await e.push(s2[i]!);
      }
      await e.flush();
      const st = e.sourceStatus(S1);
      expect(st.state).toBe('failed');
      expect(st.error).toBeInstanceOf(ApplyError);
      expect(st.error).toMatchObject({
        code: 'change_rejected',
        table: 'public.t',
        key: "id='5'",
        sqlstate: '23502',
        lsn: '0/44C',
        changeIndex: 1,
      });
      expect(st.error?.message).toMatch(/public\.t.*id='5'.*null value in column "v"/);
      expect(e.sourceStatus(S2).state).toBe('running');
      expect(await h.rows('SELECT sid, id FROM t ORDER BY sid, id')).toEqual([
        { sid: '1', id: 1 },
        { sid: '1', id: 2 },
        { sid: '1', id: 3 },
        { sid: '2', id: 1 },
        { sid: '2', id: 2 },
        { sid: '2', id: 3 },
      ]);
      expect(durable.at(-1)).toBe(1008n);
      expect(
        await h.rows(
          'SELECT commit_lsn::text AS lsn, end_lsn::text AS e FROM kuvasz.source_positions WHERE sid = $1',
          ['1'],
        ),
      ).toEqual([{ lsn: '0/3E8', e: '0/3F0' }]);
      await expect(e.push(s1[2]!)).rejects.toMatchObject({ code: 'source_failed' });

      // Fix the target, then replay the whole source: what is there is skipped, the rest applied once.
      await h.rows('ALTER TABLE t ALTER COLUMN v DROP NOT NULL');
      e.resumeSource(S1);
      await pushAll(e, s1);
      expect(await h.rows(`SELECT id, v FROM t WHERE sid = '1' ORDER BY id`)).toEqual([
        { id: 1, v: 'a' },
        { id: 2, v: 'b' },
        { id: 3, v: 'c' },
        { id: 4, v: 'd' },
        { id: 5, v: null },
        { id: 6, v: 'f' },
        { id: 7, v: 'g' },
      ]);
      expect(e.stats().filter((s) => s.result === 'conflict')).toEqual([]);
      expect(durable.at(-1)).toBe(1208n);
    } finally {
      await h.close();
    }
  });

  test('after a rejected change nothing later of that source is in, whatever the workers; the replay is exact', async () => {
    const h = await harness(pgc.get(), DDL);
    try {
      const e = await h.engine({ tables: [mapping('t', 'clone')], workers: 4 });
      const r = rel('t', [['id', true], 'v']);
      const list = txs(S1, 1000n, [
        Array.from({ length: 20 }, (_, i) => ins(r, [String(i), 'v'])),
        [ins(r, ['100', null])],
        Array.from({ length: 20 }, (_, i) => ins(r, [String(200 + i), 'v'])),
      ]);
      const durable: bigint[] = [];
      e.onDurable((_s, lsn) => durable.push(lsn));
      for (const t of list) await e.push(t);
      await e.flush();
      expect(e.sourceStatus(S1).error).toMatchObject({ code: 'change_rejected', key: "id='100'" });
      expect(durable.at(-1)).toBe(1008n);
      expect(await h.rows('SELECT count(*)::int AS n FROM t')).toEqual([{ n: 20 }]);
      await h.rows('ALTER TABLE t ALTER COLUMN v DROP NOT NULL');
      e.resumeSource(S1);
      await pushAll(e, list);
      expect(
        await h.rows('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM t'),
      ).toEqual([{ n: 41, d: 41 }]);
      expect(e.stats().filter((s) => s.result !== 'ok')).toEqual([]);
      expect(durable.at(-1)).toBe(1208n);
    } finally {
      await h.close();
    }
  });

  test('a destination restart is retried transparently', async () => {
    const cluster = pgc.get();
    const h = await harness(cluster, DDL);
    try {
      const log = captureLogger();
      const e = await h.engine({
        tables: [mapping('t', 'clone')],
        // One connection, which the restart breaks: the next group must find out and retry.
        workers: 1,
        retry: { initialMs: 50, maxMs: 500 },
        logger: log.logger,
      });
      const r = rel('t', [['id', true], 'v']);
      const list = txs(
        S1,
        1000n,
        Array.from({ length: 20 }, (_, i) => [ins(r, [String(i), 'v'])]),
      );
      await pushAll(e, list.slice(0, 10));
      await cluster.restart();
      await pushAll(e, list.slice(10));
      expect(await h.rows('SELECT count(*)::int AS n FROM t')).toEqual([{ n: 20 }]);
      expect(log.lines.some((l) => l.msg === 'destination error, retrying the group')).toBe(true);
      expect(
        JSON.stringify(log.lines, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
      ).not.toContain(cluster.password);
      expect(e.sourceStatus(S1).state).toBe('running');
    } finally {
      await h.close();
    }
  });

  test('a group held up in the destination is named while it waits, and when it ends', async () => {
    const cluster = pgc.get();
    const h = await harness(cluster, DDL);
    const locker = await cluster.connect(h.db);
    try {
      const log = captureLogger();
      const e = await h.engine({
        tables: [mapping('t', 'clone')],
        workers: 1,
        logger: log.logger,
        slowGroupMs: 200,
      });
      const r = rel('t', [['id', true], 'v']);
      // Reads go on (the statistics look), writes wait.
      await locker.query('BEGIN; LOCK TABLE t IN SHARE MODE');
      await e.push(txs(S1, 1000n, [[ins(r, ['1', 'v'])]])[0]!);
      const warned = () => log.lines.find((l) => l.msg.startsWith('destination slow'));
      await waitFor(() => warned(), { timeoutMs: 10_000 });
      expect(warned()).toMatchObject({
        level: 'warn',
        obj: { source: 'src (sid 1)', step: 'insert public.t' },
      });
      expect(await h.rows('SELECT count(*)::int AS n FROM t')).toEqual([{ n: 0 }]);
      await locker.query('ROLLBACK');
      await e.flush();
      expect(await h.rows('SELECT count(*)::int AS n FROM t')).toEqual([{ n: 1 }]);
      expect(log.lines.some((l) => l.msg === 'slow group finished')).toBe(true);
    } finally {
      await locker.end();
      await h.close();
    }
  });

  test('watermarks: skip before the copy, reconcile quietly until the stream caught up', async () => {
    const h = await harness(
      pgc.get(),
      `${DDL}; INSERT INTO t VALUES ('1', 1, 'copy'), ('1', 2, 'copy'), ('1', 4, 'copy4')`,
    );
    try {
      const e = await h.engine({ tables: [mapping('t', 'clone')] });
      e.setTableWatermark(
        S1,
        { schema: 'public', table: 't' },
        { skipBefore: 2000n, reconcileBefore: 3000n },
      );
      const r = rel('t', [['id', true], 'v']);
      const list: SourceTransaction[] = [
        ...txs(S1, 1500n, [[ins(r, ['1', 'old'])]]),
        ...txs(S1, 2500n, [
          [
            ins(r, ['2', 'new']),
            upd(r, ['3', 'three']),
            del(r, { key: ['9', null] }),
            upd(r, ['8', UNCHANGED]),
          ],
        ]),
        ...txs(S1, 3500n, [[ins(r, ['2', 'again']), del(r, { key: ['4', null] })]]),
      ];
      await pushAll(e, list);
      expect(await h.rows('SELECT id, v FROM t ORDER BY id')).toEqual([
        { id: 1, v: 'copy' },
        { id: 2, v: 'new' },
        { id: 3, v: 'three' },
      ]);
      const by = (op: string, res: string) =>
        e.stats().find((s) => s.operation === op && s.result === res)?.count;
      expect(by('insert', 'skipped')).toBe(1);
      expect(by('insert', 'conflict')).toBe(1);
      expect(by('update', 'error')).toBe(1);
      expect(e.stats().filter((s) => s.result === 'missing')).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
