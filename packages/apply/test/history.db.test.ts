import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { del, harness, ins, mapping, pushAll, rel, S1, trunc, txs, upd } from './helpers.js';

const TABLE = `CREATE TABLE h (sid text NOT NULL, id int NOT NULL, salary int, name text,
  kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL DEFAULT false);`;
const OPEN_INDEX = `CREATE UNIQUE INDEX h_open ON h (sid, id) WHERE kvsz_end = '9999-01-01 00:00:00+00';`;
const HIST = `${TABLE} ${OPEN_INDEX}`;

/**
 * The statements differ with the target's indexes: probes of an index on the
 * key (nested loops, new versions by COPY), or one close-and-reopen statement
 * without one.
 */
const INDEXES: [string, string][] = [
  ['the open-version unique index', OPEN_INDEX],
  ['a versions index (planTargetDdl)', 'CREATE INDEX h_versions ON h (sid, id, kvsz_end);'],
  [
    'the open-version index in another time zone',
    `SET TimeZone = 'America/New_York'; ${OPEN_INDEX.replace('9999-01-01 00:00:00+00', '9998-12-31 19:00:00-05')}`,
  ],
  ['no index', ''],
];

const Q = `SELECT id, salary, name, to_char(kvsz_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS s,
  to_char(kvsz_end AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS e, kvsz_deleted AS d FROM h ORDER BY id, kvsz_start, kvsz_end`;
/** Q for sid 1's rows only. */
const Q_SID1 = Q.replace('FROM h', "FROM h WHERE sid = '1'");

/** The commit time of each pushed transaction as Q prints it (UTC, to the second). */
const shownTimes =
  (list: { commitTime: unknown }[]) =>
  (i: number): string =>
    new Date(list[i]!.commitTime as string).toISOString().replace('T', ' ').slice(0, 19);

describe.each(testedVersions())('history on PG %i', (version) => {
  const pgc = useCluster({ version });

  describe.each(INDEXES)('with %s', (_name, index) => {
    const HIST = `${TABLE} ${index}`;

    test('a key changes three times, the other stays untouched; contiguous chain, one open version', async () => {
      const h = await harness(pgc.get(), HIST);
      try {
        const e = await h.engine({ tables: [mapping('h', 'history')] });
        const r = rel('h', [['id', true], 'salary', 'name']);
        const list = txs(S1, 1000n, [
          [ins(r, ['1', '1000', 'John']), ins(r, ['2', '500', 'Jane'])],
          [upd(r, ['1', '1200', 'John'])],
          [upd(r, ['1', '2000', 'John'])],
          [del(r, { key: ['1', null, null] })],
        ]);
        await pushAll(e, list);
        const t = shownTimes(list);
        expect(await h.rows(Q)).toEqual([
          { id: 1, salary: 1000, name: 'John', s: '1900-01-01 00:00:00', e: t(1), d: false },
          { id: 1, salary: 1200, name: 'John', s: t(1), e: t(2), d: false },
          { id: 1, salary: 2000, name: 'John', s: t(2), e: t(3), d: true },
          {
            id: 2,
            salary: 500,
            name: 'Jane',
            s: '1900-01-01 00:00:00',
            e: '9999-01-01 00:00:00',
            d: false,
          },
        ]);
        expect(e.stats().filter((s) => s.result !== 'ok')).toEqual([]);
      } finally {
        await h.close();
      }
    });

    test('several changes of a key in one transaction make one version; key change; re-insert after delete', async () => {
      const h = await harness(pgc.get(), HIST);
      try {
        const e = await h.engine({ tables: [mapping('h', 'history')] });
        const r = rel('h', [['id', true], 'salary', 'name']);
        const list = txs(S1, 1000n, [
          [
            ins(r, ['1', '1', 'a']),
            upd(r, ['1', '2', 'a']),
            upd(r, ['1', '3', 'a']),
            ins(r, ['5', '0', 'gone']),
            del(r, { key: ['5', null, null] }),
          ],
          [upd(r, ['1', '4', 'a']), upd(r, ['1', '5', 'a'])],
          [upd(r, ['2', '5', 'a'], { key: ['1', null, null] })],
          [del(r, { key: ['2', null, null] })],
          [ins(r, ['2', '9', 'back'])],
        ]);
        await pushAll(e, list);
        const t = shownTimes(list);
        expect(await h.rows(Q)).toEqual([
          { id: 1, salary: 3, name: 'a', s: '1900-01-01 00:00:00', e: t(1), d: false },
          { id: 1, salary: 5, name: 'a', s: t(1), e: t(2), d: false },
          { id: 2, salary: 5, name: 'a', s: t(2), e: t(3), d: true },
          { id: 2, salary: 9, name: 'back', s: t(4), e: '9999-01-01 00:00:00', d: false },
        ]);
      } finally {
        await h.close();
      }
    });

    test('conflicts: insert with an open version, update and delete without one; truncate closes that sid', async () => {
      const h = await harness(
        pgc.get(),
        `${HIST} INSERT INTO h VALUES ('1', 1, 10, 'pre', '1900-01-01+00', '9999-01-01+00', false), ('2', 1, 10, 'other sid', '1900-01-01+00', '9999-01-01+00', false);`,
      );
      try {
        const e = await h.engine({ tables: [mapping('h', 'history')] });
        const r = rel('h', [['id', true], 'salary', 'name']);
        const list = txs(S1, 1000n, [
          [ins(r, ['1', '11', 'dup'])],
          [upd(r, ['7', '70', 'upd-missing'])],
          [del(r, { key: ['8', null, null] })],
          [trunc(r)],
        ]);
        await pushAll(e, list);
        const t = shownTimes(list);
        expect(await h.rows(Q_SID1)).toEqual([
          { id: 1, salary: 10, name: 'pre', s: '1900-01-01 00:00:00', e: t(3), d: true },
          { id: 7, salary: 70, name: 'upd-missing', s: t(1), e: t(3), d: true },
        ]);
        expect(
          await h.rows(
            `SELECT count(*)::int AS n FROM h WHERE sid = '2' AND kvsz_end = '9999-01-01+00'`,
          ),
        ).toEqual([{ n: 1 }]);
        const by = (op: string, res: string) =>
          e.stats().find((s) => s.operation === op && s.result === res)?.count;
        expect(by('insert', 'conflict')).toBe(1);
        expect(by('update', 'missing')).toBe(1);
        expect(by('delete', 'missing')).toBe(1);
      } finally {
        await h.close();
      }
    });

    // With the versions index, a batch's inserts are first checked as one key
    // range (probeVersions): 9 and 10 sort the other way round as text, so a
    // range taken in text order would miss 9's earlier version.
    test('inserts of new keys beside a re-inserted one: only that one starts at the change time', async () => {
      const h = await harness(
        pgc.get(),
        `${HIST} INSERT INTO h VALUES ('1', 9, 1, 'old', '1900-01-01+00', '2026-01-01+00', true), ('2', 10, 1, 'other sid', '1900-01-01+00', '9999-01-01+00', false);`,
      );
      try {
        const e = await h.engine({ tables: [mapping('h', 'history')] });
        const r = rel('h', [['id', true], 'salary', 'name']);
        const list = txs(S1, 1000n, [
          [ins(r, ['9', '2', 'back']), ins(r, ['10', '3', 'new']), ins(r, ['100', '4', 'far'])],
        ]);
        await pushAll(e, list);
        const t0 = shownTimes(list)(0);
        expect(await h.rows(Q_SID1)).toEqual([
          {
            id: 9,
            salary: 1,
            name: 'old',
            s: '1900-01-01 00:00:00',
            e: '2026-01-01 00:00:00',
            d: true,
          },
          { id: 9, salary: 2, name: 'back', s: t0, e: '9999-01-01 00:00:00', d: false },
          {
            id: 10,
            salary: 3,
            name: 'new',
            s: '1900-01-01 00:00:00',
            e: '9999-01-01 00:00:00',
            d: false,
          },
          {
            id: 100,
            salary: 4,
            name: 'far',
            s: '1900-01-01 00:00:00',
            e: '9999-01-01 00:00:00',
            d: false,
          },
        ]);
        expect(e.stats().filter((s) => s.result !== 'ok')).toEqual([]);
      } finally {
        await h.close();
      }
    });
  });

  test('transaction arriving in parts is folded as a whole', async () => {
    const h = await harness(pgc.get(), HIST);
    try {
      const e = await h.engine({ tables: [mapping('h', 'history')], batchRows: 2 });
      const r = rel('h', [['id', true], 'salary', 'name']);
      const [a, b] = txs(S1, 1000n, [[ins(r, ['1', '1', 'x'])], []]);
      await e.push(a!);
      const base = {
        source: S1,
        commitLsn: b!.commitLsn,
        endLsn: b!.endLsn,
        commitTime: b!.commitTime,
      };
      await e.push({
        ...base,
        changes: [upd(r, ['1', '2', 'x']), upd(r, ['1', '3', 'x'])],
        final: false,
      });
      await e.push({
        ...base,
        changes: [upd(r, ['1', '4', 'x'])],
        firstChangeIndex: 2,
        final: false,
      });
      await e.push({
        ...base,
        changes: [upd(r, ['1', '5', 'x'])],
        firstChangeIndex: 3,
        final: true,
      });
      await e.flush();
      expect(
        (await h.rows('SELECT salary FROM h ORDER BY kvsz_start')).map((x) => x.salary),
      ).toEqual([1, 5]);
    } finally {
      await h.close();
    }
  });
});
