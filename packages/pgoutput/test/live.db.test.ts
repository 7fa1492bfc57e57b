/**
 * End to end: a real slot streamed over a walsender connection (`pg` with
 * replication=database + pg-copy-streams `both()`), each CopyData chunk read
 * with parseReplicationFrame and decoded with PgoutputDecoder (protocol v2,
 * streaming on), progress reported with encodeStandbyStatusUpdate. The slot's
 * confirmed_flush_lsn must move to exactly what was reported.
 */
import { type PgCluster, startPostgres, testedVersions, waitFor } from '@kuvasz/testkit';
import pg from 'pg';
import { both } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  defaultTypeParsers,
  encodeStandbyStatusUpdate,
  formatLsn,
  type Lsn,
  PgoutputDecoder,
  type PgoutputMessage,
  parseLsn,
  parseReplicationFrame,
  RelationCache,
  UNCHANGED_TOAST,
} from '../src/index.js';

describe.each(testedVersions())('live replication from PostgreSQL %i', (version) => {
  let cluster: PgCluster | undefined;
  beforeAll(async () => {
    cluster = await startPostgres({ version, settings: { logical_decoding_work_mem: '64kB' } });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  test('decodes a slot end to end and confirms the flushed position', async () => {
    const c = cluster!;
    const db = await c.createDatabase();
    const slot = `live_${db}`;
    await c.sql(
      'CREATE TABLE "Order" (id int PRIMARY KEY, note text, big text, at timestamptz, n bigint)',
      [],
      db,
    );
    await c.sql('ALTER TABLE "Order" ALTER COLUMN big SET STORAGE EXTERNAL', [], db);
    await c.sql('CREATE PUBLICATION pub FOR TABLE "Order"', [], db);
    await c.sql(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot], db);
    await c.sql(
      `INSERT INTO "Order" VALUES (1, 'one', repeat('b', 3000), '2026-11-22 10:00:00.5+00', 9223372036854775807)`,
      [],
      db,
    );
    await c.sql(`UPDATE "Order" SET note = 'uno' WHERE id = 1`, [], db);
    // Larger than logical_decoding_work_mem: streamed in segments before its commit.
    await c.sql(
      `INSERT INTO "Order" (id, note) SELECT g, 'bulk' FROM generate_series(100, 1099) g`,
      [],
      db,
    );
    await c.sql('DELETE FROM "Order" WHERE id = 1', [], db);
    const [{ lsn: writtenUpTo } = { lsn: '' }] = await c.sql<{ lsn: string }>(
      'SELECT pg_current_wal_lsn()::text AS lsn',
      [],
      db,
    );

    const client = new pg.Client({
      connectionString: c.urlFor(db),
      replication: 'database',
    } as pg.ClientConfig);
    await client.connect();
    const decoder = new PgoutputDecoder({ protoVersion: 2 });
    const relations = new RelationCache();
    const messages: PgoutputMessage[] = [];
    let lastEnd: Lsn = 0n;
    let transactionsDone = 0;
    const stream = client.query(
      both(
        `START_REPLICATION SLOT ${pg.escapeIdentifier(slot)} LOGICAL 0/0 (proto_version '2', publication_names ${pg.escapeLiteral('pub')}, streaming 'on')`,
        { alignOnCopyDataFrame: true },
      ),
    );
    const streamError = new Promise<never>((_, reject) => stream.on('error', reject));
    stream.on('data', (chunk: Buffer) => {
      const frame = parseReplicationFrame(chunk);
      if (frame.tag === 'keepalive') {
        if (frame.replyRequested) {
          stream.write(
            encodeStandbyStatusUpdate({ writeLsn: lastEnd, flushLsn: lastEnd, applyLsn: lastEnd }),
          );
        }
        return;
      }
      const msg = decoder.decode(frame.data);
      messages.push(msg);
      if (msg.tag === 'relation') relations.set(msg);
      if (msg.tag === 'commit' || msg.tag === 'stream_commit') {
        lastEnd = msg.endLsn;
        transactionsDone++;
      }
    });

    try {
      await Promise.race([
        streamError,
        waitFor(() => transactionsDone === 4, {
          timeoutMs: 30_000,
          message: 'four transactions to stream',
        }),
      ]);
      expect(lastEnd > 0n).toBe(true);
      expect(lastEnd <= parseLsn(writtenUpTo)).toBe(true);
      stream.write(
        encodeStandbyStatusUpdate({ writeLsn: lastEnd, flushLsn: lastEnd, applyLsn: lastEnd }),
      );
      await waitFor(
        async () => {
          const [row] = await c.sql<{ lsn: string | null }>(
            'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
            [slot],
          );
          return row?.lsn === formatLsn(lastEnd);
        },
        { timeoutMs: 15_000, message: `confirmed_flush_lsn to reach ${formatLsn(lastEnd)}` },
      );
    } finally {
      stream.end();
      await client.end();
    }

    const kinds = messages.map((m) => m.tag);
    expect(kinds.slice(0, 4)).toEqual(['begin', 'relation', 'insert', 'commit']);
    expect(kinds).toContain('stream_start');
    expect(kinds).toContain('stream_stop');
    expect(kinds).toContain('stream_commit');
    expect(decoder.inStreamBlock).toBe(false);

    const first = messages[2]!;
    if (first.tag !== 'insert') throw new Error('insert expected');
    const rel = relations.require(first.relationOid);
    expect(rel).toMatchObject({ schema: 'public', name: 'Order' });
    expect({ ...relations.toRecord(rel, first.new, defaultTypeParsers) }).toEqual({
      id: 1,
      note: 'one',
      big: 'b'.repeat(3000),
      at: new Date('2026-11-22T10:00:00.500Z'),
      n: 9223372036854775807n,
    });
    const update = messages.find((m) => m.tag === 'update');
    expect(update).toMatchObject({
      key: undefined,
      old: undefined,
      new: ['1', 'uno', UNCHANGED_TOAST, '2026-11-22 10:00:00.5+00', '9223372036854775807'],
    });
    const streamed = messages.filter((m) => m.tag === 'insert' && m.xid !== undefined);
    expect(streamed.map((m) => (m.tag === 'insert' ? Number(m.new[0]) : 0))).toEqual(
      Array.from({ length: 1000 }, (_, i) => 100 + i),
    );
    const del = messages.find((m) => m.tag === 'delete');
    expect(del).toMatchObject({ key: ['1', null, null, null, null] });

    await waitFor(async () => (await c.slots(db)).every((s) => !s.active), {
      timeoutMs: 10_000,
      message: 'the slot to be released',
    });
    await c.dropSlots(db);
  });
});
