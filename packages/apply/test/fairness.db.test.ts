import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import type { SourceId, SourceTransaction } from '../src/index.js';
import { harness, ins, mapping, rel } from './helpers.js';

/**
 * 200 sources into one destination table (multi-tenant consolidation): one
 * source catches up a large backlog while 199 others each commit a small
 * transaction. On a single destination connection they take turns with the
 * hot source, first come first served: none waits behind the backlog (a
 * scheduler that let the hot source go first fails this).
 */
describe('fairness across sources (PG 17)', () => {
  const pgc = useCluster({ version: 17 });

  test('a source with a backlog does not hold back 199 others', async () => {
    const h = await harness(
      pgc.get(),
      'CREATE TABLE t (sid text NOT NULL, id int NOT NULL, v text, PRIMARY KEY (sid, id))',
    );
    try {
      // One connection: the hot source and the others take turns on it.
      const e = await h.engine({ tables: [mapping('t', 'clone')], workers: 1, batchRows: 2000 });
      const r = rel('t', [['id', true], 'v']);
      const hot: SourceId = { database: 'src', sid: 'hot' };
      const others: SourceId[] = Array.from({ length: 199 }, (_, i) => ({
        database: 'src',
        sid: `t${i}`,
      }));
      const tx = (source: SourceId, n: number, rows: number): SourceTransaction => ({
        source,
        commitLsn: 1000n + BigInt(n) * 10n,
        endLsn: 1000n + BigInt(n) * 10n + 8n,
        commitTime: '2024-01-01 00:00:00+00',
        changes: Array.from({ length: rows }, (_, k) => ins(r, [String(n * rows + k), 'v'])),
      });
      const BACKLOG = 300;
      const hotLast = 1000n + BigInt(BACKLOG - 1) * 10n + 8n;
      let hotDurable = 0n;
      const durableAt = new Map<string, number>();
      const hotWhenDurable = new Map<string, bigint>();
      e.onDurable((s, lsn) => {
        if (s.sid === 'hot') hotDurable = lsn;
        else {
          durableAt.set(s.sid, performance.now());
          hotWhenDurable.set(s.sid, hotDurable);
        }
      });

      let pushedAt = 0;
      const backlog = (async () => {
        for (let n = 0; n < BACKLOG; n++) {
          await e.push(tx(hot, n, 1000));
          // A fifth into the backlog, the 199 other sources each commit one transaction.
          if (n === 60) {
            pushedAt = performance.now();
            await Promise.all(others.map((s) => e.push(tx(s, 0, 3))));
          }
        }
      })();
      await backlog;
      await e.flush();

      expect(durableAt.size).toBe(199);
      const waits = [...durableAt.values()].map((t) => t - pushedAt);
      // Every one of them was in while the backlog was still being applied...
      for (const s of others) expect(hotWhenDurable.get(s.sid)! < hotLast, s.sid).toBe(true);
      // ... within seconds, not after the backlog (generous: the machine is shared).
      expect(Math.max(...waits)).toBeLessThan(10_000);
      expect(await h.rows('SELECT count(*)::int AS n FROM t')).toEqual([
        { n: BACKLOG * 1000 + 199 * 3 },
      ]);
    } finally {
      await h.close();
    }
  }, 180_000);
});
