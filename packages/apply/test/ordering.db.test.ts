import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import type { RowChange, SourceId, SourceTransaction } from '../src/index.js';
import { del, harness, ins, mapping, rel, S1, S2, upd } from './helpers.js';

/**
 * The ordered-apply contract: at every instant the destination holds a
 * prefix of each source's commit history. Each source transaction moves
 * money into a ledger and sets a counter to the ledger's running total and
 * to its own number, opens an account with invoices referencing it (foreign
 * keys in the target) and closes an older one (its invoices first, as the
 * source must). A reader polling the destination must always see, per
 * source, a counter equal to the ledger's sum at exactly the transaction the
 * counter names, and never a constraint error.
 */
const DDL = `
CREATE TABLE counter (sid text NOT NULL, id int NOT NULL, version int NOT NULL, total bigint NOT NULL, PRIMARY KEY (sid, id));
CREATE TABLE ledger (sid text NOT NULL, id int NOT NULL, amount int NOT NULL, PRIMARY KEY (sid, id));
CREATE TABLE accounts (sid text NOT NULL, id int NOT NULL, name text NOT NULL, PRIMARY KEY (sid, id));
CREATE TABLE invoices (sid text NOT NULL, id int NOT NULL, account_id int NOT NULL, amount int NOT NULL,
  PRIMARY KEY (sid, id), FOREIGN KEY (sid, account_id) REFERENCES accounts (sid, id));`;

const counter = rel('counter', [['id', true], 'version', 'total']);
const ledger = rel('ledger', [['id', true], 'amount']);
const accounts = rel('accounts', [['id', true], 'name']);
const invoices = rel('invoices', [['id', true], 'account_id', 'amount']);

/** `n` transactions of one source, and the counter's total after each (index = version). */
function history(
  source: SourceId,
  n: number,
): { list: SourceTransaction[]; totals: bigint[]; accounts: number } {
  const list: SourceTransaction[] = [];
  const totals: bigint[] = [];
  let total = 0n;
  const live: number[] = [];
  for (let v = 0; v < n; v++) {
    const changes: RowChange[] = [];
    const amount = (v * 37) % 101;
    changes.push(ins(ledger, [String(v), String(amount)]));
    total += BigInt(amount);
    if (v % 5 === 4) {
      // Some money moves back out: a ledger row of an earlier transaction is deleted.
      const gone = v - 3;
      changes.push(del(ledger, { key: [String(gone), null] }));
      total -= BigInt((gone * 37) % 101);
    }
    changes.push(
      v === 0
        ? ins(counter, ['1', String(v), String(total)])
        : upd(counter, ['1', String(v), String(total)]),
    );
    // An account with two invoices in the same transaction...
    changes.push(ins(accounts, [String(v), `account ${v}`]));
    changes.push(ins(invoices, [String(2 * v), String(v), '10']));
    changes.push(ins(invoices, [String(2 * v + 1), String(v), '20']));
    live.push(v);
    // ... and an older one closed: invoices first, then the account, as the source requires.
    if (live.length > 3 && v % 2 === 0) {
      const a = live.shift()!;
      changes.push(del(invoices, { key: [String(2 * a), null] }));
      changes.push(del(invoices, { key: [String(2 * a + 1), null] }));
      changes.push(del(accounts, { key: [String(a), null] }));
    }
    list.push({
      source,
      commitLsn: 1000n + BigInt(v) * 100n,
      endLsn: 1000n + BigInt(v) * 100n + 8n,
      commitTime: new Date(Date.UTC(2024, 0, 1) + v * 1000).toISOString(),
      changes,
    });
    totals.push(total);
  }
  return { list, totals, accounts: live.length };
}

describe.each(testedVersions())('ordered apply on PG %i', (version) => {
  const pgc = useCluster({ version });

  test('every snapshot read during a catch-up is a prefix of each source history; foreign keys hold without fallbacks', async () => {
    const h = await harness(pgc.get(), DDL);
    try {
      const e = await h.engine({
        tables: ['counter', 'ledger', 'accounts', 'invoices'].map((t) => mapping(t, 'clone')),
        workers: 4,
        batchRows: 300,
        flushIntervalMs: 5,
      });
      const sources = [S1, S2].map((s) => ({ source: s, ...history(s, 1500) }));
      let done = false;
      const snapshots: { sid: string; version: number; total: string; sum: string }[][] = [];
      const reader = (async () => {
        while (!done) {
          snapshots.push(
            await h.rows(
              `SELECT c.sid, c.version, c.total::text AS total,
                      (SELECT coalesce(sum(l.amount), 0) FROM ledger l WHERE l.sid = c.sid)::text AS sum
                 FROM counter c ORDER BY c.sid`,
            ),
          );
        }
      })();
      // Both sources arrive interleaved, as two streams would.
      await Promise.all(
        sources.map(async ({ list }) => {
          for (const tx of list) await e.push(tx);
        }),
      );
      await e.flush();
      done = true;
      await reader;

      expect(snapshots.length).toBeGreaterThan(20);
      const seen = new Map<string, number>();
      let partial = 0;
      for (const snap of snapshots) {
        for (const row of snap) {
          const expected = sources.find((s) => s.source.sid === row.sid)!.totals[row.version]!;
          expect(row.total, `sid ${row.sid} at version ${row.version}`).toBe(String(expected));
          expect(row.sum, `ledger of sid ${row.sid} at version ${row.version}`).toBe(row.total);
          // Never backwards.
          expect(row.version).toBeGreaterThanOrEqual(seen.get(row.sid) ?? 0);
          seen.set(row.sid, row.version);
          if (row.version < 1499) partial++;
        }
      }
      // The reader saw the catch-up in progress, not only its end.
      expect(partial).toBeGreaterThan(5);
      for (const { source } of sources) expect(e.sourceStatus(source).state).toBe('running');
      expect(await h.rows('SELECT sid, version FROM counter ORDER BY sid')).toEqual([
        { sid: '1', version: 1499 },
        { sid: '2', version: 1499 },
      ]);
      expect(await h.rows('SELECT count(*)::int AS n FROM accounts')).toEqual([
        { n: sources[0]!.accounts + sources[1]!.accounts },
      ]);
      // The planner's order alone kept the foreign keys: no group was refused.
      const m = e.metrics();
      expect(m.splits + m.exactRuns).toBe(0);
      expect(m.groups).toBeGreaterThan(10);
      expect(e.stats().filter((s) => s.result !== 'ok')).toEqual([]);
    } finally {
      await h.close();
    }
  }, 120_000);
});
