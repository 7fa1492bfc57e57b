import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testedVersions, waitFor } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { afterEach, describe, expect, test } from 'vitest';
import { kuvaszObjectName } from '../src/naming.js';
import { syncPublication } from '../src/publication.js';
import { createSlotWithSnapshot } from '../src/slots.js';
import { ReplicationStream } from '../src/stream/replication-stream.js';
import type { TransactionPart } from '../src/types.js';
import { nextPart } from './helpers.js';

// CI runs 200,000 rows; KUVASZ_BIG_TX_ROWS=1000000 for the full-size run.
const BIG_ROWS = Number(process.env.KUVASZ_BIG_TX_ROWS ?? 200_000);
const RSS_LIMIT = 150 * 1024 * 1024;

function spillFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.log'));
}

describe.each(testedVersions())('large transactions on PostgreSQL %i', (version) => {
  const pgc = useCluster({ version });
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function setup(tag: string, streamingMemory: boolean) {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    const url = cluster.urlFor(db);
    await cluster.sql('CREATE TABLE t (id int PRIMARY KEY, v text)', [], db);
    if (streamingMemory) {
      // The walsender decodes with this database's setting: tiny, so the
      // server streams big transactions in progress (PostgreSQL 14+).
      await cluster.sql(`ALTER DATABASE "${db}" SET logical_decoding_work_mem = '64kB'`);
    }
    const name = kuvaszObjectName(db, tag);
    await syncPublication(url, name, [{ schema: 'public', table: 't' }]);
    const created = await createSlotWithSnapshot({ connectionString: url, slot: name });
    await created.release();
    const spillBase = fs.mkdtempSync(path.join(os.tmpdir(), 'kuvasz-spill-test-'));
    cleanup.push(async () => {
      await cluster.dropSlots(db);
      fs.rmSync(spillBase, { recursive: true, force: true });
    });
    return { cluster, db, url, name, spillBase };
  }

  test.each([
    { streaming: true, how: 'streamed by the server, spilled' },
    { streaming: false, how: 'sent after its commit' },
  ])(
    `a ${BIG_ROWS}-row transaction $how arrives whole, in parts, with bounded memory`,
    async ({ streaming }) => {
      const { cluster, db, url, name, spillBase } = await setup('big', true);
      await cluster.sql(
        `INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, ${BIG_ROWS}) g`,
        [],
        db,
      );
      await cluster.sql(`INSERT INTO t VALUES (0, 'after')`, [], db);
      const stream = new ReplicationStream({
        connectionString: url,
        slot: name,
        publication: name,
        streaming,
        // 8 MiB (KUVASZ_SPILL_MB to change): most of the transaction goes through a spill file.
        spill: { memoryBytes: Number(process.env.KUVASZ_SPILL_MB ?? 8) * 1048576, dir: spillBase },
      });
      cleanup.push(() => stream.close());
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 20);
      let changes = 0;
      let parts = 0;
      let expectedIndex = 0;
      let ids = 0; // sum of ids, to check that every row came exactly once
      let last: TransactionPart | undefined;
      try {
        for (;;) {
          const part = await nextPart(stream, 120_000);
          peak = Math.max(peak, process.memoryUsage().rss);
          expect(part.firstChangeIndex).toBe(expectedIndex);
          expectedIndex += part.changes.length;
          for (const c of part.changes) {
            if (c.kind !== 'insert') throw new Error(`unexpected ${c.kind}`);
            ids += Number(c.new[0]);
          }
          changes += part.changes.length;
          parts++;
          if (part.final) {
            last = part;
            break;
          }
          if (last === undefined) expect(part.final).toBe(false);
        }
      } finally {
        clearInterval(sampler);
      }
      stream.ack(last.endLsn);
      expect(changes).toBe(BIG_ROWS);
      expect(ids).toBe((BIG_ROWS * (BIG_ROWS + 1)) / 2);
      expect(parts).toBeGreaterThanOrEqual(Math.ceil(BIG_ROWS / 5000));
      const growth = peak - baseline;
      console.log(
        `PG${version} (streaming ${streaming}): ${BIG_ROWS} rows in ${parts} parts; peak RSS growth ${(growth / 1048576).toFixed(1)} MiB; streamed ${stream.stats.streamedCommitted}, spill files ${stream.stats.spillFiles}`,
      );
      expect(growth).toBeLessThan(RSS_LIMIT);
      if (version >= 14 && streaming) {
        expect(stream.stats.streamedCommitted).toBe(1);
        expect(stream.stats.spillFiles).toBeGreaterThan(0);
      } else {
        expect(stream.stats.streamedCommitted).toBe(0);
        expect(stream.stats.spillFiles).toBe(0);
      }
      // The spill file went away once the transaction was replayed.
      expect(spillFiles(spillBase)).toEqual([]);
      // The next transaction follows.
      const after = await nextPart(stream);
      expect(after.changes[0]?.kind === 'insert' && after.changes[0].new).toEqual(['0', 'after']);
      await stream.close();
      expect(fs.readdirSync(spillBase)).toEqual([]);
    },
  );

  test('an aborted streamed transaction delivers nothing and leaves no spill file', async () => {
    const { cluster, db, url, name, spillBase } = await setup('abort', true);
    const stream = new ReplicationStream({
      connectionString: url,
      slot: name,
      publication: name,
      spill: { memoryBytes: 256 * 1024, dir: spillBase },
    });
    cleanup.push(() => stream.close());
    await stream.start();
    // The transaction must still be open while the server streams it: one
    // that already aborted is not streamed at all.
    const writer = await cluster.connect(db);
    cleanup.push(() => writer.end());
    await writer.query('BEGIN');
    await writer.query('INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 30000) g');
    if (version >= 14) {
      await waitFor(() => spillFiles(spillBase).length > 0, { timeoutMs: 30_000 });
    }
    await writer.query('ROLLBACK');
    await writer.query(`INSERT INTO t VALUES (1, 'kept')`);
    const part = await nextPart(stream);
    expect(part.final).toBe(true);
    expect(part.changes).toHaveLength(1);
    expect(part.changes[0]?.kind === 'insert' && part.changes[0].new).toEqual(['1', 'kept']);
    if (version >= 14) {
      expect(stream.stats.streamedAborted).toBe(1);
      expect(stream.stats.spillFiles).toBeGreaterThan(0);
    }
    expect(spillFiles(spillBase)).toEqual([]);
    await stream.close();
    expect(fs.readdirSync(spillBase)).toEqual([]);
  });

  test('aborted subtransactions of a streamed transaction are cut out exactly', async () => {
    const { cluster, db, url, name, spillBase } = await setup('subxact', true);
    await cluster.sql(
      `BEGIN;
       INSERT INTO t SELECT g, 'top' FROM generate_series(1, 5000) g;
       SAVEPOINT s1;
       INSERT INTO t SELECT g, 's1' FROM generate_series(5001, 10000) g;
       RELEASE SAVEPOINT s1;
       SAVEPOINT s2;
       INSERT INTO t SELECT g, 's2' FROM generate_series(10001, 15000) g;
       SAVEPOINT s3;
       INSERT INTO t SELECT g, 's3' FROM generate_series(15001, 16000) g;
       RELEASE SAVEPOINT s3;
       ROLLBACK TO SAVEPOINT s2;
       INSERT INTO t SELECT g, 'after' FROM generate_series(20001, 21000) g;
       SAVEPOINT s4;
       INSERT INTO t SELECT g, 's4' FROM generate_series(21001, 22000) g;
       ROLLBACK TO SAVEPOINT s4;
       COMMIT;`,
      [],
      db,
    );
    const stream = new ReplicationStream({
      connectionString: url,
      slot: name,
      publication: name,
      spill: { memoryBytes: 512 * 1024, dir: spillBase },
    });
    cleanup.push(() => stream.close());
    const seen: string[] = [];
    const tags = new Map<string, number>();
    for (;;) {
      const part = await nextPart(stream);
      for (const c of part.changes) {
        if (c.kind !== 'insert') throw new Error(`unexpected ${c.kind}`);
        seen.push(c.new[0] as string);
        const tag = c.new[1] as string;
        tags.set(tag, (tags.get(tag) ?? 0) + 1);
      }
      if (part.final) break;
    }
    expect(Object.fromEntries(tags)).toEqual({ top: 5000, s1: 5000, after: 1000 });
    expect(new Set(seen).size).toBe(11000);
    const rows = await cluster.sql<{ n: number }>('SELECT count(*)::int AS n FROM t', [], db);
    expect(rows[0]?.n).toBe(11000);
    if (version >= 14) {
      expect(stream.stats.streamedCommitted).toBe(1);
      expect(stream.stats.subtransactionsAborted).toBeGreaterThan(0);
    }
    await stream.close();
  });
});
