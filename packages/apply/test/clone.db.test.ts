import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import {
  captureLogger,
  del,
  harness,
  ins,
  mapping,
  pushAll,
  rel,
  S1,
  trunc,
  txs,
  upd,
} from './helpers.js';

describe.each(testedVersions())('clone and append on PG %i', (version) => {
  const pgc = useCluster({ version });

  test('insert, update, key change, delete (default identity)', async () => {
    const h = await harness(pgc.get(), 'CREATE TABLE t (id int PRIMARY KEY, v text, n numeric)');
    try {
      const e = await h.engine({ tables: [mapping('t', 'clone')] });
      const r = rel('t', [['id', true], 'v', 'n']);
      const durable: bigint[] = [];
      e.onDurable((_s, lsn) => durable.push(lsn));
      await pushAll(
        e,
        txs(S1, 1000n, [
          [ins(r, ['1', 'a', '1.5']), ins(r, ['2', 'b', null]), ins(r, ['3', 'c', '3'])],
          [upd(r, ['1', 'a2', '1.5']), upd(r, ['20', 'b', null], { key: ['2', null, null] })],
          [del(r, { key: ['3', null, null] })],
        ]),
      );
      expect(await h.rows('SELECT id, v, n::text FROM t ORDER BY id')).toEqual([
        { id: 1, v: 'a2', n: '1.5' },
        { id: 20, v: 'b', n: null },
      ]);
      expect(durable.at(-1)).toBe(1208n);
      expect(await e.storedPosition(S1)).toBe(1208n);
      const stats = e.stats();
      expect(stats.find((s) => s.operation === 'insert' && s.result === 'ok')?.count).toBe(3);
    } finally {
      await h.close();
    }
  });

  test.each([
    ['a primary key (ON CONFLICT arbiter)', 'id int PRIMARY KEY, v text'],
    ['no unique index (probe first)', 'id int, v text'],
    ['a plain index (probe first, by index)', 'id int, v text); CREATE INDEX t_id ON t (id'],
  ])('conflicts are detected, counted, and keep existing rows: %s', async (_name, cols) => {
    const h = await harness(
      pgc.get(),
      `CREATE TABLE t (${cols}); INSERT INTO t VALUES (1, 'existing')`,
    );
    try {
      const e = await h.engine({ tables: [mapping('t', 'clone')] });
      const r = rel('t', [['id', true], 'v']);
      await pushAll(
        e,
        txs(S1, 1000n, [
          [ins(r, ['1', 'new']), ins(r, ['2', 'two'])],
          [upd(r, ['5', 'five']), del(r, { key: ['9', null] })],
        ]),
      );
      expect(await h.rows('SELECT id, v FROM t ORDER BY id')).toEqual([
        { id: 1, v: 'existing' },
        { id: 2, v: 'two' },
        { id: 5, v: 'five' },
      ]);
      const by = (op: string, res: string) =>
        e.stats().find((s) => s.operation === op && s.result === res)?.count;
      expect(by('insert', 'conflict')).toBe(1);
      expect(by('update', 'missing')).toBe(1);
      expect(by('delete', 'missing')).toBe(1);
    } finally {
      await h.close();
    }
  });

  test('an update that misses its row inserts it; if the new key exists after all, the existing row is kept and both are logged', async () => {
    const h = await harness(
      pgc.get(),
      `CREATE TABLE t (sid text NOT NULL, id int NOT NULL, v text, PRIMARY KEY (sid, id));
       INSERT INTO t VALUES ('1', 1, 'existing')`,
    );
    try {
      const log = captureLogger();
      const e = await h.engine({ tables: [mapping('t', 'clone')], logger: log.logger });
      const r = rel('t', [['id', true], 'v']);
      // 7 -> 1: row 7 is missing, and key 1 exists; 8 is missing and free.
      await pushAll(
        e,
        txs(S1, 1000n, [[upd(r, ['1', 'moved'], { key: ['7', null] }), upd(r, ['8', 'eight'])]]),
      );
      expect(await h.rows('SELECT id, v FROM t ORDER BY id')).toEqual([
        { id: 1, v: 'existing' },
        { id: 8, v: 'eight' },
      ]);
      expect(e.stats().find((s) => s.operation === 'update' && s.result === 'missing')?.count).toBe(
        2,
      );
      const warned = log.lines
        .filter((l) => l.level === 'warn')
        .map((l) => `${l.obj.key}: ${l.msg}`)
        .sort();
      // Logged under the key the change addressed (7), as every event of an update is.
      expect(warned).toEqual([
        "id='7': insert of a key that already exists: kept the existing row",
        "id='7': update of a missing row: inserted it from the new values",
        "id='8': update of a missing row: inserted it from the new values",
      ]);
    } finally {
      await h.close();
    }
  });

  test.each([7, 1000])(
    'the same key changed many times in one group keeps source order (groups of %i changes)',
    async (batchRows) => {
      const h = await harness(pgc.get(), 'CREATE TABLE t (id int PRIMARY KEY, v int)');
      try {
        const e = await h.engine({
          tables: [mapping('t', 'clone')],
          batchRows,
        });
        const r = rel('t', [['id', true], 'v']);
        const list = [[ins(r, ['1', '0'])]];
        for (let i = 1; i <= 50; i++) list.push([upd(r, ['1', String(i)])]);
        list.push(
          [del(r, { key: ['1', null] })],
          [ins(r, ['1', '100'])],
          [upd(r, ['2', '101'], { key: ['1', null] })],
          [ins(r, ['1', '7'])],
        );
        await pushAll(e, txs(S1, 1000n, list));
        expect(await h.rows('SELECT id, v FROM t ORDER BY id')).toEqual([
          { id: 1, v: 7 },
          { id: 2, v: 101 },
        ]);
        expect(e.stats().filter((s) => s.result !== 'ok')).toEqual([]);
      } finally {
        await h.close();
      }
    },
  );

  test('append ignores deletes and truncates; clone truncate removes only that sid', async () => {
    const h = await harness(
      pgc.get(),
      `CREATE TABLE a (id int PRIMARY KEY, v text);
       CREATE TABLE c (sid text, id int, v text, PRIMARY KEY (sid, id));
       INSERT INTO c VALUES ('9', 1, 'other source')`,
    );
    try {
      const e = await h.engine({ tables: [mapping('a', 'append'), mapping('c', 'clone')] });
      const ra = rel('a', [['id', true], 'v']);
      const rc = rel('c', [['id', true], 'v']);
      await pushAll(
        e,
        txs(S1, 1000n, [
          [ins(ra, ['1', 'x']), ins(rc, ['1', 'x']), ins(rc, ['2', 'y'])],
          [del(ra, { key: ['1', null] }), upd(ra, ['1', 'x2'])],
          [trunc(ra, rc)],
          [ins(rc, ['3', 'z'])],
        ]),
      );
      expect(await h.rows('SELECT id, v FROM a')).toEqual([{ id: 1, v: 'x2' }]);
      expect(await h.rows('SELECT sid, id, v FROM c ORDER BY sid, id')).toEqual([
        { sid: '1', id: 3, v: 'z' },
        { sid: '9', id: 1, v: 'other source' },
      ]);
      expect(
        e.stats().find((s) => s.table === 'public.a' && s.operation === 'delete')?.result,
      ).toBe('skipped');
    } finally {
      await h.close();
    }
  });
});
