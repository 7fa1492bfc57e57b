import { pgTimestampToIso } from '@kuvasz/pgoutput';
import { testedVersions, waitFor } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { afterEach, describe, expect, test } from 'vitest';
import { StreamError } from '../src/errors.js';
import { kuvaszObjectName } from '../src/naming.js';
import { syncPublication } from '../src/publication.js';
import { createSlotWithSnapshot } from '../src/slots.js';
import { ReplicationStream } from '../src/stream/replication-stream.js';
import { confirmedFlush, nextPart, readTransactions } from './helpers.js';

const pgIdent = (s: string) => `"${s.replaceAll('"', '""')}"`;

describe.each(testedVersions())('ReplicationStream on PostgreSQL %i', (version) => {
  const pgc = useCluster({ version });
  const streams: ReplicationStream[] = [];
  afterEach(async () => {
    for (const s of streams.splice(0)) await s.close();
  });

  test('delivers committed transactions with their changes, messages and positions', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    const url = cluster.urlFor(db);
    await cluster.sql(
      `CREATE TABLE "Item" (id int PRIMARY KEY, "Name" text, note text);
       CREATE TABLE other (id int PRIMARY KEY);`,
      [],
      db,
    );
    const name = kuvaszObjectName(db, 'basics');
    await syncPublication(url, name, [{ schema: 'public', table: 'Item' }]);
    const created = await createSlotWithSnapshot({ connectionString: url, slot: name });
    await created.release();

    await cluster.sql(
      `BEGIN;
       INSERT INTO "Item" VALUES (1, 'one', NULL), (2, 'two', 'x');
       SELECT pg_logical_emit_message(true, 'app', 'hello');
       SELECT pg_logical_emit_message(true, 'kuvasz_heartbeat', 'filtered');
       COMMIT;`,
      [],
      db,
    );
    await cluster.sql('INSERT INTO other VALUES (1)', [], db); // not published
    await cluster.sql(`UPDATE "Item" SET "Name" = 'uno' WHERE id = 1`, [], db);
    await cluster.sql('UPDATE "Item" SET id = 3 WHERE id = 2', [], db);
    await cluster.sql('DELETE FROM "Item" WHERE id = 1', [], db);
    await cluster.sql('TRUNCATE "Item"', [], db);

    const stream = new ReplicationStream({
      connectionString: url,
      slot: name,
      publication: name,
      heartbeat: { intervalMs: 60_000 },
    });
    streams.push(stream);
    const txs = await readTransactions(stream, 5);
    const parts = txs.map((t) => {
      expect(t).toHaveLength(1);
      return t[0]!;
    });
    for (const p of parts) {
      expect(p.final).toBe(true);
      expect(p.firstChangeIndex).toBe(0);
      expect(p.endLsn).toBeGreaterThan(p.commitLsn);
      expect(pgTimestampToIso(p.commitTime)).toMatch(/^\d{4}-\d\d-\d\dT/);
    }
    // Commit order, strictly increasing.
    for (let i = 1; i < parts.length; i++) {
      expect(parts[i]!.commitLsn).toBeGreaterThan(parts[i - 1]!.commitLsn);
    }
    const [ins, upd, keyUpd, del, trunc] = parts as [
      (typeof parts)[0],
      (typeof parts)[0],
      (typeof parts)[0],
      (typeof parts)[0],
      (typeof parts)[0],
    ];
    expect(ins.changes.map((c) => c.kind)).toEqual(['insert', 'insert']);
    const first = ins.changes[0]!;
    if (first.kind !== 'insert') throw new Error('expected an insert');
    expect(first.relation.schema).toBe('public');
    expect(first.relation.name).toBe('Item');
    expect(first.relation.columns.map((c) => c.name)).toEqual(['id', 'Name', 'note']);
    expect(first.new).toEqual(['1', 'one', null]);
    if (version >= 14) {
      expect(ins.messages.map((m) => [m.prefix, Buffer.from(m.content).toString()])).toEqual([
        ['app', 'hello'],
      ]);
    } else {
      expect(ins.messages).toEqual([]);
    }
    const u = upd.changes[0]!;
    expect(u.kind === 'update' && u.new).toEqual(['1', 'uno', null]);
    expect(u.kind === 'update' && u.key).toBeUndefined();
    const k = keyUpd.changes[0]!;
    expect(k.kind === 'update' && k.key?.[0]).toBe('2');
    expect(k.kind === 'update' && k.new).toEqual(['3', 'two', 'x']);
    const d = del.changes[0]!;
    expect(d.kind === 'delete' && d.key?.[0]).toBe('1');
    const t = trunc.changes[0]!;
    expect(t.kind).toBe('truncate');
    expect(t.kind === 'truncate' && t.relations.map((r) => r.name)).toEqual(['Item']);

    expect(stream.deliveredLsn).toBe(trunc.endLsn);
    expect(stream.ackedLsn).toBe(trunc.endLsn);
    expect(stream.receivedLsn).toBeGreaterThanOrEqual(trunc.endLsn);
    expect(stream.protocol?.protoVersion).toBe(version >= 16 ? 4 : version >= 14 ? 2 : 1);
    // The ack reaches the server within a status update.
    await waitFor(async () => (await confirmedFlush(cluster, name)) >= trunc.endLsn, {
      timeoutMs: 10_000,
    });
    expect(() => stream.ack(trunc.endLsn + 1000n)).toThrow(StreamError);
    await stream.close();
    await cluster.dropSlots(db);
  });

  test('close() sends the last acknowledged position; binary mode; any publication name', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    const url = cluster.urlFor(db);
    const pub = `Pub "${db}" 'q'`;
    await cluster.sql(
      `CREATE TABLE t (id int PRIMARY KEY, v text); CREATE PUBLICATION ${pgIdent(pub)} FOR TABLE t`,
      [],
      db,
    );
    const slot = kuvaszObjectName(db, 'close');
    const created = await createSlotWithSnapshot({ connectionString: url, slot });
    const stream = new ReplicationStream({
      connectionString: url,
      slot,
      publication: pub,
      createdSlot: created,
      binary: version >= 14,
      statusIntervalMs: 60_000,
    });
    streams.push(stream);
    await cluster.sql(`INSERT INTO t VALUES (1, 'a')`, [], db);
    const part = await nextPart(stream);
    const c = part.changes[0];
    if (c?.kind !== 'insert') throw new Error('expected an insert');
    if (version >= 14) {
      expect(c.new[0]).toEqual(new Uint8Array([0, 0, 0, 1]));
      expect(Buffer.from(c.new[1] as Uint8Array).toString()).toBe('a');
    } else {
      expect(c.new).toEqual(['1', 'a']);
    }
    stream.ack(part.endLsn);
    // No timer fired yet (60 s): close() itself reports the position.
    await stream.close();
    expect(await confirmedFlush(cluster, slot)).toBe(part.endLsn);
    await cluster.dropSlots(db);
  });

  test('a missing publication and a missing slot stop the stream with a typed error', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    const url = cluster.urlFor(db);
    const name = kuvaszObjectName(db, 'missing');
    const noSlot = new ReplicationStream({ connectionString: url, slot: name, publication: name });
    streams.push(noSlot);
    const e1 = await noSlot.next().catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(StreamError);
    expect((e1 as StreamError).code).toBe('slot_missing');
    expect((e1 as StreamError).message).not.toContain(cluster.password);

    const created = await createSlotWithSnapshot({ connectionString: url, slot: name });
    await created.release();
    const noPub = new ReplicationStream({ connectionString: url, slot: name, publication: name });
    streams.push(noPub);
    const e2 = await noPub.start().catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(StreamError);
    expect((e2 as StreamError).code).toBe('publication_missing');
    await cluster.dropSlots(db);
  });
});
