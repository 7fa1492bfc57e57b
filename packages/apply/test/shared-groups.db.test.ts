import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import type { ApplyEngineOptions, SourceId, SourceTransaction } from '../src/index.js';
import { type Harness, harness, ins, mapping, rel, upd } from './helpers.js';

/**
 * Many sources, few connections: a connection about to apply one source's
 * group takes the groups of the other sources waiting too, into one
 * destination transaction with every source's position. What must hold:
 * each source's transactions still arrive whole and in order, a refused
 * change stops only its own source (the others' groups go on, each in a
 * transaction of its own), and a shared COMMIT whose connection is lost is
 * neither lost nor applied twice.
 */
const DDL =
  'CREATE TABLE t (sid text NOT NULL, id int NOT NULL, v text NOT NULL, n int NOT NULL, PRIMARY KEY (sid, id))';
const r = rel('t', [['id', true], 'v', 'n']);
const sources: SourceId[] = Array.from({ length: 12 }, (_, i) => ({
  database: 'src',
  sid: `s${i}`,
}));

/** Source `s`'s transaction number `k`: an insert of row k, and an update of row 0's counter to k. */
function tx(s: SourceId, k: number, v = 'v'): SourceTransaction {
  return {
    source: s,
    commitLsn: 1000n + BigInt(k) * 10n,
    endLsn: 1000n + BigInt(k) * 10n + 8n,
    commitTime: '2024-01-01 00:00:00+00',
    changes:
      k === 0
        ? [ins(r, ['0', v, '0'])]
        : [ins(r, [String(k), v, String(k)]), upd(r, ['0', v, String(k)])],
  };
}

/** Every source's `k` transactions, each once and in order (row 0's counter at the last). */
async function expectEvery(h: Harness, k: number): Promise<void> {
  expect(
    await h.rows<{ sid: string; rows: number; last: number }>(
      'SELECT sid, count(*)::int AS rows, max(n) FILTER (WHERE id = 0)::int AS last FROM t GROUP BY sid ORDER BY sid',
    ),
  ).toEqual(
    sources
      .map((s) => ({ sid: s.sid, rows: k, last: k - 1 }))
      .sort((a, b) => (a.sid < b.sid ? -1 : 1)),
  );
}

/**
 * An engine on one connection whose first group waits at 'planned' until
 * `open()`: every source pushed before that is waiting for the connection.
 */
async function heldEngine(
  h: Harness,
  options: Partial<ApplyEngineOptions> = {},
  onStep?: (name: string) => Promise<void>,
) {
  let release!: () => void;
  let hold: Promise<void> | undefined = new Promise<void>((resolve) => {
    release = resolve;
  });
  const e = await h.engine({
    tables: [mapping('t', 'clone')],
    workers: 1,
    ...options,
    testHooks: {
      step: async (name) => {
        if (name === 'planned' && hold) await hold;
        await onStep?.(name);
      },
    },
  });
  return {
    e,
    open: () => {
      release();
      hold = undefined;
    },
  };
}

describe.each(testedVersions())('shared destination transactions on PG %i', (version) => {
  const pgc = useCluster({ version });

  test('several sources per destination transaction; each source whole and in order', async () => {
    const h = await harness(pgc.get(), DDL);
    try {
      const { e, open } = await heldEngine(h);
      for (let k = 0; k < 5; k++) for (const s of sources) await e.push(tx(s, k));
      open();
      await e.flush();
      const m = e.metrics();
      expect(m.shared).toBeGreaterThan(0);
      expect(m.groups).toBeLessThan(m.transactions);
      expect(m.transactions).toBe(sources.length * 5);
      await expectEvery(h, 5);
      expect(
        await h.rows<{ n: number }>(
          "SELECT count(*)::int AS n FROM kuvasz.source_positions WHERE commit_lsn = '0/410'::pg_lsn",
        ),
      ).toEqual([{ n: sources.length }]);
    } finally {
      await h.close();
    }
  });

  test('a refused change in a shared transaction stops only its source; the others are applied', async () => {
    const h = await harness(pgc.get(), DDL);
    try {
      const { e, open } = await heldEngine(h);
      await h.rows("ALTER TABLE t ADD CONSTRAINT no_bad CHECK (v <> 'bad')");
      const bad = sources[3]!;
      for (let k = 0; k < 3; k++)
        for (const s of sources) await e.push(tx(s, k, s === bad && k === 2 ? 'bad' : 'v'));
      open();
      await e.flush().catch(() => undefined);
      expect(e.sourceStatus(bad).state).toBe('failed');
      for (const s of sources) if (s !== bad) expect(e.sourceStatus(s).state).toBe('running');
      const rows = await h.rows<{ sid: string; rows: number }>(
        'SELECT sid, count(*)::int AS rows FROM t GROUP BY sid',
      );
      for (const s of sources)
        expect(rows.find((x) => x.sid === s.sid)?.rows, s.sid).toBe(s === bad ? 2 : 3);
    } finally {
      await h.close();
    }
  });

  test('the connection lost at a shared COMMIT: every source exactly once', async () => {
    const h = await harness(pgc.get(), DDL);
    try {
      let killed = false;
      let commits = 0;
      const { e, open } = await heldEngine(
        h,
        { retry: { initialMs: 20, maxMs: 100 } },
        async (name) => {
          // The first group is s0's alone (nothing else waited yet); the second is shared.
          if (name === 'before-commit' && ++commits === 2) {
            killed = true;
            // The worker's connection among them: its transaction goes out with the COMMIT.
            await h.rows(
              'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
            );
          }
        },
      );
      for (let k = 0; k < 4; k++) for (const s of sources) await e.push(tx(s, k));
      open();
      await e.flush();
      expect(killed).toBe(true);
      // s0's first group, then the shared one that was cut: its 12 groups went one by one.
      expect(e.metrics()).toMatchObject({ shared: 0, groups: 1 + sources.length });
      for (const s of sources) expect(e.sourceStatus(s).state).toBe('running');
      await expectEvery(h, 4);
    } finally {
      await h.close();
    }
  });
});
