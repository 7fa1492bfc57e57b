import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import type { RowChange, SourceTransaction } from '../src/index.js';
import { legacyLane } from '../src/intake/legacy-positions.js';
import { resolveShape } from '../src/planner/shape.js';
import { fakeTarget } from '../src/testing/fake-target.js';
import { del, harness, ins, mapping, pushAll, rel, S1, upd } from './helpers.js';

const TARGETS = `
CREATE TABLE c (sid text NOT NULL, id int NOT NULL, v text, PRIMARY KEY (sid, id));
CREATE TABLE hh (sid text NOT NULL, id int NOT NULL, v text,
  kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL DEFAULT false);
CREATE UNIQUE INDEX hh_open ON hh (sid, id) WHERE kvsz_end = '9999-01-01 00:00:00+00';`;

/** The metadata the engine before ordered apply created (2026-11): lane positions, lagging durable LSNs. */
const LANE_METADATA = `
CREATE SCHEMA kuvasz;
CREATE TABLE kuvasz.positions (
  source_database text NOT NULL, sid text NOT NULL, target_schema text NOT NULL, target_table text NOT NULL,
  lane integer NOT NULL, lanes integer NOT NULL, commit_lsn pg_lsn NOT NULL, next_index integer NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source_database, sid, target_schema, target_table, lane));
CREATE TABLE kuvasz.sources (
  source_database text NOT NULL, sid text NOT NULL, durable_lsn pg_lsn NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source_database, sid));`;

const DUMP = `SELECT 'c' AS t, sid, id, v, NULL AS s, NULL AS e, NULL AS d FROM c
  UNION ALL SELECT 'h', sid, id, v, kvsz_start::text, kvsz_end::text, kvsz_deleted::text FROM hh
  ORDER BY 1, 2, 3, 5, 6`;

const rc = rel('c', [['id', true], 'v']);
const rh = rel('hh', [['id', true], 'v']);

/** Ten transactions over keys 1 to 8 of both tables: inserts, updates, deletes, re-inserts. */
function workload(): SourceTransaction[] {
  const list: SourceTransaction[] = [];
  for (let t = 0; t < 10; t++) {
    const changes: RowChange[] = [];
    for (let k = 1; k <= 8; k++) {
      const key = String(k);
      const v = `t${t}k${k}`;
      if (t === 0) changes.push(ins(rc, [key, v]), ins(rh, [key, v]));
      else if ((t + k) % 7 === 0)
        changes.push(del(rc, { key: [key, null] }), del(rh, { key: [key, null] }));
      else if ((t + k) % 7 === 1 && t > 1) changes.push(ins(rc, [key, v]), ins(rh, [key, v]));
      else if ((t + k) % 7 !== 1) changes.push(upd(rc, [key, v]), upd(rh, [key, v]));
    }
    list.push({
      source: S1,
      commitLsn: 1000n + BigInt(t) * 100n,
      endLsn: 1000n + BigInt(t) * 100n + 8n,
      commitTime: new Date(Date.UTC(2024, 0, 1) + t * 60_000).toISOString(),
      changes,
    });
  }
  return list;
}

describe('lane positions route as the lane engine did', () => {
  test('keys hash to the lanes that engine gave them (values taken from it)', () => {
    const shape = resolveShape(
      rc,
      fakeTarget('clone', [
        ['id', 'integer'],
        ['v', 'text'],
      ]),
    );
    const seen: Record<string, number[]> = {};
    for (const k of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '100', 'abc'])
      seen[k] = [2, 3, 4].map(
        (lanes) =>
          legacyLane(
            { op: 'insert', shape, newT: [k, 'x'], tx: 0n, time: '', quiet: false, ref: 0 },
            lanes,
          ).lane,
      );
    expect(seen).toEqual({
      '1': [1, 1, 3],
      '2': [0, 0, 2],
      '3': [1, 2, 1],
      '4': [0, 1, 0],
      '5': [1, 0, 3],
      '6': [0, 2, 2],
      '7': [1, 1, 1],
      '8': [0, 1, 0],
      '9': [1, 0, 3],
      '10': [1, 0, 1],
      '100': [1, 2, 3],
      abc: [0, 2, 0],
    });
  });
});

describe.each(testedVersions())('upgrade in place from lane positions on PG %i', (version) => {
  const pgc = useCluster({ version });

  test('a destination left mid-way by the lane engine: no re-copy, nothing applied twice, lane positions dropped once passed', async () => {
    const cluster = pgc.get();
    const list = workload();
    const tables = [mapping('c', 'clone'), mapping('hh', 'history')];

    // What one uninterrupted run leaves.
    const ref = await harness(cluster, TARGETS);
    let expected: unknown[];
    try {
      await pushAll(await ref.engine({ tables }), list);
      expected = await ref.rows(DUMP);
    } finally {
      await ref.close();
    }

    // The lane engine crashed with two lanes at different points: lane 0 of c
    // had every change up to transaction 6 and the first two of transaction 7
    // (its position is mid-transaction), lane 1 up to transaction 3; both
    // lanes of hh up to transaction 4 and 5. Rebuild exactly that destination.
    const shape = resolveShape(
      rc,
      fakeTarget('clone', [
        ['id', 'integer'],
        ['v', 'text'],
      ]),
    );
    const laneOf = (ch: RowChange) => {
      if (ch.op === 'truncate') return 0;
      const t = ch.op === 'delete' ? ch.key! : ch.new;
      return legacyLane({ op: 'insert', shape, newT: t, tx: 0n, time: '', quiet: false, ref: 0 }, 2)
        .lane;
    };
    const stored = {
      c: [
        { lane: 0, tx: 7, next: 0 },
        { lane: 1, tx: 3, next: 0 },
      ],
      hh: [
        { lane: 0, tx: 4, next: 0 },
        { lane: 1, tx: 5, next: 0 },
      ],
    };
    const cLane0 = list[7]!.changes
      .map((ch, i) => ({ ch, i }))
      .filter(({ ch }) => ch.op !== 'truncate' && ch.relation.table === 'c' && laneOf(ch) === 0);
    stored.c[0]!.next = cLane0[1]!.i + 1; // two of its lane-0 changes in
    for (const h of stored.hh) h.next = list[h.tx]!.changes.length;
    stored.c[1]!.next = list[3]!.changes.length;
    const coveredBy = (table: 'c' | 'hh', ch: RowChange, t: number, i: number) => {
      const p = stored[table][laneOf(ch)]!;
      return t < p.tx || (t === p.tx && i < p.next);
    };
    const h = await harness(cluster, `${TARGETS} ${LANE_METADATA}`);
    try {
      const partial = list.map((tx, t) => ({
        ...tx,
        changes: tx.changes.filter(
          (ch, i) => ch.op !== 'truncate' && coveredBy(ch.relation.table as 'c' | 'hh', ch, t, i),
        ),
      }));
      // Written by a throwaway engine, whose own position is then removed: as the lane engine left it.
      await pushAll(await h.engine({ tables, metadataSchema: 'prep' }), partial);
      for (const [table, lanes] of Object.entries(stored)) {
        for (const p of lanes) {
          await h.rows(
            `INSERT INTO kuvasz.positions VALUES ('src', '1', 'public', $1, $2, 2, $3::pg_lsn, $4)`,
            [table, p.lane, `0/${(1000 + p.tx * 100).toString(16)}`, p.next],
          );
        }
      }
      await h.rows(
        `INSERT INTO kuvasz.sources VALUES ('src', '1', '0/${(1000 + 2 * 100 + 8).toString(16)}')`,
      );
      expect(await h.rows(DUMP)).not.toEqual(expected);

      const e = await h.engine({ tables });
      // Migrated in place: the tables that were there are recorded, the new one added.
      expect(await h.rows('SELECT version FROM kuvasz.schema_version ORDER BY 1')).toEqual(
        [1, 2, 3, 4, 5, 6, 7].map((version) => ({ version })),
      );
      expect(await e.storedPosition(S1)).toBe(1208n);
      // The slot replays from its confirmed position, which may lag: here from the very start.
      await pushAll(e, list);
      expect(await h.rows(DUMP)).toEqual(expected);
      expect(await h.rows('SELECT count(*)::int AS n FROM kuvasz.positions')).toEqual([{ n: 0 }]);
      expect(await e.storedPosition(S1)).toBe(list.at(-1)!.endLsn);
      // A second replay (the stream restarting from an older confirmed position) changes nothing.
      await pushAll(e, list.slice(4));
      expect(await h.rows(DUMP)).toEqual(expected);
      expect(e.stats().filter((s) => s.result !== 'ok' && s.result !== 'skipped')).toEqual([]);
    } finally {
      await h.close();
    }
  });

  test('a metadata schema written by a newer version is refused with a typed error, before anything is applied', async () => {
    const h = await harness(pgc.get(), TARGETS);
    try {
      await (await h.engine({ tables: [mapping('c', 'clone')] })).close();
      await h.rows(
        `INSERT INTO kuvasz.schema_version (version, name) VALUES (99, 'from the future')`,
      );
      await expect(h.engine({ tables: [mapping('c', 'clone')] })).rejects.toMatchObject({
        name: 'MetadataSchemaError',
        code: 'schema_newer',
        message: expect.stringMatching(/version 99.*newer kuvasz-streamer/),
      });
    } finally {
      await h.close();
    }
  });
});
