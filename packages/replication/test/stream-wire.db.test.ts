/**
 * `wireInserts`: inserts arrive as bytes in an arena (`InsertChange.wire`),
 * and `new` decodes them to exactly what the object decoder gives; updates,
 * deletes, and inserts of a transaction streamed in progress stay decoded.
 * `wireRows`: updates that keep their key and deletes by key as well.
 */
import { ARENA_NULL, type ArenaTuple, arenaValues, UNCHANGED_TOAST } from '@kuvasz/pgoutput';
import { testedVersions } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { afterEach, describe, expect, test } from 'vitest';
import { kuvaszObjectName } from '../src/naming.js';
import { syncPublication } from '../src/publication.js';
import { createSlotWithSnapshot } from '../src/slots.js';
import { ReplicationStream } from '../src/stream/replication-stream.js';
import type { Change } from '../src/types.js';
import { readTransactions } from './helpers.js';

const VALUES = `(1, 'one', NULL, E'tab\\there\\nnl \\\\ bs', 'ünï 🐘'), (2, NULL, 7, '', repeat('x', 3000))`;

function wireOf(c: Change): ArenaTuple | undefined {
  return c.kind === 'insert' ? c.wire : undefined;
}

describe.each(testedVersions())('wireInserts on PostgreSQL %i', (version) => {
  const pgc = useCluster({ version });
  const streams: ReplicationStream[] = [];
  afterEach(async () => {
    for (const s of streams.splice(0)) await s.close();
  });

  test('inserts carry their row as bytes that decode to the values the decoder gives', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    const url = cluster.urlFor(db);
    await cluster.sql('CREATE TABLE t (id int PRIMARY KEY, a text, b int, c text, d text)', [], db);
    const name = kuvaszObjectName(db, 'wire');
    await syncPublication(url, name, [{ schema: 'public', table: 't' }]);
    const created = await createSlotWithSnapshot({ connectionString: url, slot: name });
    await created.release();
    await cluster.sql(`INSERT INTO t VALUES ${VALUES}`, [], db);
    await cluster.sql(`UPDATE t SET a = 'uno' WHERE id = 1`, [], db);
    await cluster.sql('DELETE FROM t WHERE id = 2', [], db);

    const read = async (wireInserts: boolean, slot: string) => {
      const stream = new ReplicationStream({
        connectionString: url,
        slot,
        publication: name,
        wireInserts,
      });
      streams.push(stream);
      const txs = await readTransactions(stream, 3, { ack: false });
      await stream.close();
      return txs.map((t) => t[0]!.changes);
    };
    const wired = await read(true, name);
    const [ins, upd, del] = wired as [Change[], Change[], Change[]];
    expect(ins.map((c) => c.kind)).toEqual(['insert', 'insert']);
    const w = ins.map(wireOf);
    expect(w.every((x) => x !== undefined)).toBe(true);
    // NULL is a marker, not bytes; the two rows share the arena's chunk.
    expect(w[0]!.offsets[w[0]!.at + 2 * 2]).toBe(ARENA_NULL);
    expect(w[0]!.bytes).toBe(w[1]!.bytes);
    const rows = [
      ['1', 'one', null, 'tab\there\nnl \\ bs', 'ünï 🐘'],
      ['2', null, '7', '', 'x'.repeat(3000)],
    ];
    expect(w.map((x) => arenaValues(x!))).toEqual(rows);
    // `new` decodes on read, to the same values.
    expect(ins.map((c) => (c.kind === 'insert' ? c.new : undefined))).toEqual(rows);
    expect(upd.map(wireOf)).toEqual([undefined]);
    expect(del.map(wireOf)).toEqual([undefined]);
  });

  test('wireRows: updates that keep their key and deletes by key carry bytes too; key changes and REPLICA IDENTITY FULL stay decoded', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    const url = cluster.urlFor(db);
    await cluster.sql(
      `CREATE TABLE t (id int PRIMARY KEY, a text, big text);
       CREATE TABLE f (id int, a text); ALTER TABLE f REPLICA IDENTITY FULL;
       ALTER TABLE t ALTER COLUMN big SET STORAGE EXTERNAL;
       INSERT INTO t VALUES (1, 'one', repeat('x', 9000)), (2, 'two', NULL), (3, 'three', NULL);
       INSERT INTO f VALUES (1, 'f')`,
      [],
      db,
    );
    const name = kuvaszObjectName(db, 'wirerows');
    await syncPublication(url, name, [
      { schema: 'public', table: 't' },
      { schema: 'public', table: 'f' },
    ]);
    const created = await createSlotWithSnapshot({ connectionString: url, slot: name });
    await created.release();
    await cluster.sql(
      `BEGIN; UPDATE t SET a = E'uno\\t' WHERE id = 1; UPDATE t SET id = 20 WHERE id = 2;
       DELETE FROM t WHERE id = 3; UPDATE f SET a = 'g'; DELETE FROM f; COMMIT`,
      [],
      db,
    );
    const stream = new ReplicationStream({
      connectionString: url,
      slot: name,
      publication: name,
      wireRows: true,
    });
    streams.push(stream);
    const [parts] = await readTransactions(stream, 1, { ack: false });
    const changes = parts!.flatMap((p) => p.changes);
    const wires = changes.map((c) =>
      c.kind === 'update' || c.kind === 'delete' ? c.wire : undefined,
    );
    const names = changes.map((c) => (c.kind === 'truncate' ? '' : c.relation.name));
    expect(changes.map((c, i) => `${c.kind} ${names[i]} ${wires[i] ? 'wire' : 'decoded'}`)).toEqual(
      [
        'update t wire',
        'update t decoded',
        'delete t wire',
        'update f decoded',
        'delete f decoded',
      ],
    );
    const [upd, , del] = changes;
    // The unchanged TOAST value is a marker in the bytes, and `new` decodes to what the decoder gives.
    expect(upd!.kind === 'update' && upd!.new).toEqual(['1', 'uno\t', UNCHANGED_TOAST]);
    expect(arenaValues(wires[0]!)).toEqual(['1', 'uno\t', UNCHANGED_TOAST]);
    expect(del!.kind === 'delete' && del!.key).toEqual(['3', null, null]);
    expect(del!.kind === 'delete' && del!.old).toBeUndefined();
  });

  test.runIf(version >= 14)(
    'a transaction streamed in progress gives decoded inserts (its bytes were spilled, not kept in the arena)',
    async () => {
      const cluster = pgc.get();
      const db = await cluster.createDatabase();
      const url = cluster.urlFor(db);
      await cluster.sql('CREATE TABLE big (id int PRIMARY KEY, pad text)', [], db);
      const name = kuvaszObjectName(db, 'wirebig');
      await syncPublication(url, name, [{ schema: 'public', table: 'big' }]);
      const created = await createSlotWithSnapshot({ connectionString: url, slot: name });
      await created.release();
      // The walsender reads the setting from its database at connect.
      await cluster.sql(`ALTER DATABASE "${db}" SET logical_decoding_work_mem = '64kB'`);
      await cluster.sql(
        `INSERT INTO big SELECT g, repeat('p', 200) FROM generate_series(1, 3000) g`,
        [],
        db,
      );
      const stream = new ReplicationStream({
        connectionString: url,
        slot: name,
        publication: name,
        wireInserts: true,
      });
      streams.push(stream);
      const [parts] = await readTransactions(stream, 1);
      const changes = parts!.flatMap((p) => p.changes);
      expect(changes).toHaveLength(3000);
      expect(changes.filter((c) => wireOf(c) !== undefined)).toHaveLength(0);
      expect(stream.stats.streamedCommitted).toBe(1);
    },
  );
});
