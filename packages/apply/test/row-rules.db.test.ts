/**
 * Row rules (filter and computed columns) with the engine's semantics, on
 * real targets: inserts outside the filter are skipped, updates move rows in
 * and out (clone removes, history closes without marking deleted, append
 * keeps), deletes of rows never replicated are no error, computed columns
 * follow their inputs, and a rule that fails stops the source (fail closed).
 */
import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import type { ChangeTuple, RowRules, SourceRelation } from '../src/index.js';
import { UNCHANGED } from '../src/index.js';
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

/** Keeps rows whose `status` is 'open'; computes `label` = upper(v) (null when v is null). */
function openOnly(): RowRules {
  return {
    bind(relation: SourceRelation) {
      const status = relation.columns.findIndex((c) => c.name === 'status');
      const v = relation.columns.findIndex((c) => c.name === 'v');
      if (status < 0) throw new Error('the filter reads status, which the table does not have');
      return {
        filter: { reads: [status], test: (row: ChangeTuple) => row[status] === 'open' },
        computed: [
          {
            name: 'label',
            typeOid: 25,
            reads: [v],
            value: (row: ChangeTuple) => {
              const x = row[v];
              if (x === 'boom') throw new Error('label: no such overload');
              return typeof x === 'string' ? x.toUpperCase() : null;
            },
          },
        ],
      };
    },
  };
}

const withRules = (table: string, type: 'clone' | 'append' | 'history') => ({
  ...mapping(table, type),
  rows: openOnly(),
});

describe.each(testedVersions())('row rules on PG %i', (version) => {
  const pgc = useCluster({ version });

  test.each([
    [
      'clone',
      [
        { id: 1, status: 'open', v: 'a3', label: 'A3' },
        { id: 4, status: 'open', v: 'd', label: 'D' },
      ],
    ],
    [
      'append',
      [
        { id: 1, status: 'open', v: 'a3', label: 'A3' },
        { id: 2, status: 'open', v: 'b2', label: 'B2' },
        { id: 3, status: 'open', v: 'c', label: 'C' },
        { id: 4, status: 'open', v: 'd', label: 'D' },
      ],
    ],
  ] as const)('%s: rows move in and out of the filter', async (type, expected) => {
    const h = await harness(
      pgc.get(),
      'CREATE TABLE t (id int PRIMARY KEY, status text, v text, label text)',
    );
    try {
      const e = await h.engine({ tables: [withRules('t', type)] });
      const r = rel('t', [['id', true], 'status', 'v']);
      await pushAll(
        e,
        txs(S1, 1000n, [
          // 1 and 3 in, 2 out.
          [ins(r, ['1', 'open', 'a']), ins(r, ['2', 'closed', 'b']), ins(r, ['3', 'open', 'c'])],
          // 1 leaves, 2 enters, 3 leaves.
          [
            upd(r, ['1', 'closed', 'a2']),
            upd(r, ['2', 'open', 'b2']),
            upd(r, ['3', 'closed', 'c2']),
          ],
          // 1 comes back; 2 deleted; 5 (never replicated) deleted; 4 in.
          [
            upd(r, ['1', 'open', 'a3']),
            del(r, { key: ['2', null, null] }),
            del(r, { key: ['5', null, null] }),
            ins(r, ['4', 'open', 'd']),
          ],
        ]),
      );
      expect(await h.rows('SELECT id, status, v, label FROM t ORDER BY id')).toEqual(expected);
      expect(e.sourceStatus(S1).state).toBe('running');
      const filtered = e.stats().filter((s) => s.result === 'filtered');
      // Insert of 2; append also leaves out the updates of 1 and 3 that left the filter.
      expect(filtered.reduce((n, s) => n + s.count, 0)).toBe(type === 'append' ? 3 : 1);
    } finally {
      await h.close();
    }
  });

  test('history: leaving the filter closes the version without marking it deleted', async () => {
    const h = await harness(
      pgc.get(),
      `CREATE TABLE t (id int, status text, v text, label text,
         kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL,
         PRIMARY KEY (id, kvsz_start))`,
    );
    try {
      const e = await h.engine({ tables: [withRules('t', 'history')] });
      const r = rel('t', [['id', true], 'status', 'v']);
      await pushAll(
        e,
        txs(S1, 1000n, [
          [ins(r, ['1', 'open', 'a']), ins(r, ['2', 'closed', 'b'])],
          [upd(r, ['1', 'closed', 'a2']), upd(r, ['2', 'open', 'b2'])],
          [upd(r, ['1', 'open', 'a3']), del(r, { key: ['2', null, null] })],
        ]),
      );
      const rows = await h.rows<{
        id: number;
        v: string;
        label: string;
        open: boolean;
        deleted: boolean;
      }>(
        `SELECT id, v, label, kvsz_end = '9999-01-01 00:00:00+00' AS open, kvsz_deleted AS deleted
           FROM t ORDER BY id, kvsz_start`,
      );
      expect(rows).toEqual([
        { id: 1, v: 'a', label: 'A', open: false, deleted: false },
        { id: 1, v: 'a3', label: 'A3', open: true, deleted: false },
        { id: 2, v: 'b2', label: 'B2', open: false, deleted: true },
      ]);
    } finally {
      await h.close();
    }
  });

  test('an unchanged TOAST value: a computed column keeps its value, a filter that reads it stops the source', async () => {
    const h = await harness(
      pgc.get(),
      'CREATE TABLE t (id int PRIMARY KEY, status text, v text, label text)',
    );
    try {
      const e = await h.engine({ tables: [withRules('t', 'clone')] });
      const r = rel('t', [['id', true], 'status', 'v']);
      // v unchanged: label stays as computed before.
      await pushAll(
        e,
        txs(S1, 1000n, [[ins(r, ['1', 'open', 'a'])], [upd(r, ['1', 'open', UNCHANGED])]]),
      );
      expect(await h.rows('SELECT id, v, label FROM t')).toEqual([{ id: 1, v: 'a', label: 'A' }]);
      // status unchanged: the filter cannot be evaluated.
      for (const t of txs(S1, 2000n, [[upd(r, ['1', UNCHANGED, 'b'])]])) await e.push(t);
      await e.flush();
      const st = e.sourceStatus(S1);
      expect(st.state).toBe('failed');
      expect(st.error).toMatchObject({ code: 'rule_failed', key: "id='1'" });
      expect(st.error?.message).toContain('REPLICA IDENTITY FULL');
      expect(await h.rows('SELECT id, v, label FROM t')).toEqual([{ id: 1, v: 'a', label: 'A' }]);
    } finally {
      await h.close();
    }
  });

  test('a rule that fails stops the source at that change; nothing from it on is applied', async () => {
    const h = await harness(
      pgc.get(),
      'CREATE TABLE t (id int PRIMARY KEY, status text, v text, label text)',
    );
    try {
      const cap = captureLogger();
      const e = await h.engine({ tables: [withRules('t', 'clone')], logger: cap.logger });
      const r = rel('t', [['id', true], 'status', 'v']);
      for (const t of txs(S1, 1000n, [
        [ins(r, ['1', 'open', 'a'])],
        [ins(r, ['2', 'open', 'boom'])],
        [ins(r, ['3', 'open', 'c'])],
      ]))
        await e.push(t).catch(() => undefined);
      await e.flush();
      // Reported, not crashed: the group after the failing one was never planned.
      expect(cap.lines.filter((l) => l.msg === 'apply engine crashed')).toEqual([]);
      const st = e.sourceStatus(S1);
      expect(st.state).toBe('failed');
      expect(st.error).toMatchObject({ code: 'rule_failed', key: "id='2'" });
      expect(st.error?.message).toContain('no such overload');
      expect(await h.rows('SELECT id FROM t ORDER BY id')).toEqual([{ id: 1 }]);
      expect(await e.storedPosition(S1)).toBe(1008n);
    } finally {
      await h.close();
    }
  });
});
