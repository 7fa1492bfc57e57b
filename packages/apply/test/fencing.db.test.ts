import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import type { SourceTransaction } from '../src/index.js';
import { type Harness, harness, ins, mapping, rel, S1, upd } from './helpers.js';

/**
 * Fencing for a fleet of instances: a source claimed at an epoch commits
 * only while the destination's lease row still names this instance at that
 * epoch. An instance that lost the lease (paused, cut off) writes nothing,
 * and the one that took over replays from the stored position: nothing
 * lost, nothing applied twice.
 */
const DDL =
  'CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL); CREATE TABLE audit (id int PRIMARY KEY)';
const r = rel('t', [['id', true], 'n']);
const audit = rel('audit', [['id', true]]);
const tables = [mapping('t', 'clone'), mapping('audit', 'append')];

/** Transaction k: row k inserted, row 0's counter set to k, and an append-only audit row k. */
function tx(k: number): SourceTransaction {
  return {
    source: S1,
    commitLsn: 1000n + BigInt(k) * 10n,
    endLsn: 1000n + BigInt(k) * 10n + 8n,
    commitTime: '2024-01-01 00:00:00+00',
    changes:
      k === 0
        ? [ins(r, ['0', '0']), ins(audit, ['0'])]
        : [ins(r, [String(k), String(k)]), upd(r, ['0', String(k)]), ins(audit, [String(k)])],
  };
}

async function setLease(h: Harness, owner: string, epoch: number): Promise<void> {
  await h.pool.query(
    `INSERT INTO kuvasz.source_leases (source_database, sid, owner, epoch) VALUES ($1, $2, $3, $4)
       ON CONFLICT (source_database, sid) DO UPDATE SET owner = EXCLUDED.owner, epoch = EXCLUDED.epoch`,
    [S1.database, S1.sid, owner, epoch],
  );
}

async function state(h: Harness) {
  const [row] = await h.rows<{ rows: number; counter: number | null; audits: number }>(
    `SELECT (SELECT count(*)::int FROM t) AS rows, (SELECT n FROM t WHERE id = 0) AS counter,
            (SELECT count(*)::int FROM audit) AS audits`,
  );
  const [pos] = await h.rows<{ end_lsn: string }>(
    'SELECT end_lsn::text FROM kuvasz.source_positions WHERE source_database = $1 AND sid = $2',
    [S1.database, S1.sid],
  );
  return { ...row!, position: pos?.end_lsn ?? null };
}

async function pushFlush(e: Awaited<ReturnType<Harness['engine']>>, list: SourceTransaction[]) {
  for (const t of list) await e.push(t);
  await e.flush();
}

describe.each(testedVersions())('fencing on PG %i', (version) => {
  const pgc = useCluster({ version });

  test('after a take-over, the old owner writes nothing; the new one replays from the stored position exactly once', async () => {
    const h = await harness(pgc.get(), DDL);
    try {
      const a = await h.engine({ tables });
      await setLease(h, 'a', 1);
      await a.claimSource(S1, { owner: 'a', epoch: 1 });
      await pushFlush(a, [tx(0), tx(1)]);
      expect(a.sourceStatus(S1).state).toBe('running');
      expect(await state(h)).toEqual({ rows: 2, counter: 1, audits: 2, position: '0/3FA' });

      // Instance b takes the lease over (epoch 2) while a believes it still holds it.
      await setLease(h, 'b', 2);
      await pushFlush(a, [tx(2)]);
      const st = a.sourceStatus(S1);
      expect(st.state).toBe('failed');
      expect(st.error?.code).toBe('lease_lost');
      expect(st.error?.message).toContain('now held by b at epoch 2');
      expect(await state(h)).toEqual({ rows: 2, counter: 1, audits: 2, position: '0/3FA' });
      await expect(a.push(tx(3))).rejects.toThrow(/stopped/);

      // b's engine claims and replays from the slot's older confirmed position.
      const b = await h.engine({ tables });
      await b.claimSource(S1, { owner: 'b', epoch: 2 });
      expect(await b.storedPosition(S1)).toBe(tx(1).endLsn);
      await pushFlush(b, [tx(0), tx(1), tx(2), tx(3)]);
      expect(b.sourceStatus(S1).state).toBe('running');
      expect(await state(h)).toEqual({ rows: 4, counter: 3, audits: 4, position: '0/40E' });
      // tx 0 and 1 were skipped by position, not re-applied as conflicts.
      expect(
        b
          .stats()
          .filter((s) => s.operation === 'insert')
          .map((s) => s.count),
      ).toEqual([2, 2]);
    } finally {
      await h.close();
    }
  });

  test('claiming reads the position again: what another instance applied since start is not applied twice', async () => {
    const h = await harness(pgc.get(), DDL);
    try {
      // a starts first (positions loaded then: none), b applies meanwhile, then a takes over.
      const a = await h.engine({ tables });
      const b = await h.engine({ tables });
      await setLease(h, 'b', 1);
      await b.claimSource(S1, { owner: 'b', epoch: 1 });
      await pushFlush(b, [tx(0), tx(1), tx(2)]);
      b.releaseSource(S1);
      await expect(b.push(tx(3))).rejects.toMatchObject({ code: 'lease_lost' });

      await setLease(h, 'a', 2);
      await a.claimSource(S1, { owner: 'a', epoch: 2 });
      await pushFlush(a, [tx(0), tx(1), tx(2), tx(3)]);
      expect(a.sourceStatus(S1).state).toBe('running');
      expect(a.metrics().changes).toBe(3);
      expect(await state(h)).toEqual({ rows: 4, counter: 3, audits: 4, position: '0/40E' });
    } finally {
      await h.close();
    }
  });

  test('a take-over while a transaction is in flight aborts that transaction whole', async () => {
    const h = await harness(pgc.get(), DDL);
    try {
      let takeOver = false;
      const a = await h.engine({
        tables,
        testHooks: {
          step: async (name) => {
            // Another session bumps the epoch after a's rows are written, before its COMMIT.
            if (name === 'before-commit' && takeOver) await setLease(h, 'b', 2);
          },
        },
      });
      await setLease(h, 'a', 1);
      await a.claimSource(S1, { owner: 'a', epoch: 1 });
      await pushFlush(a, [tx(0)]);
      takeOver = true;
      await pushFlush(a, [tx(1), tx(2)]);
      expect(a.sourceStatus(S1).error?.code).toBe('lease_lost');
      expect(await state(h)).toEqual({ rows: 1, counter: 0, audits: 1, position: '0/3F0' });
    } finally {
      await h.close();
    }
  });
});
