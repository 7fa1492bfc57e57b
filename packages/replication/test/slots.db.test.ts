import { startPostgres, testedVersions, waitFor } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import { describe, expect, test } from 'vitest';
import { SlotError, SlotInUseError, SlotLostError, StreamError } from '../src/errors.js';
import {
  assertSlotUsable,
  createSlotWithSnapshot,
  dropSlot,
  getSlot,
  prepareSlot,
  slotHealth,
} from '../src/index.js';
import { preflight } from '../src/preflight.js';
import { ReplicationStream } from '../src/stream/replication-stream.js';
import { uniqueName } from './helpers.js';

describe.each(testedVersions())('slots on PostgreSQL %i', (version) => {
  const pgc = useCluster({ version });

  test('create with a snapshot, read its health, refuse a second create, drop only on request', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    const url = cluster.urlFor(db);
    const slot = uniqueName('kuvasz_slot');
    expect(await slotHealth(url, slot)).toMatchObject({
      exists: false,
      active: false,
      walStatus: null,
    });
    expect(await getSlot(url, slot)).toBeUndefined();

    const created = await createSlotWithSnapshot({ connectionString: url, slot });
    expect(created.snapshotName).toMatch(/^[0-9A-F-]+$/);
    expect(created.consistentPoint).toBeGreaterThan(0n);
    expect(created.serverVersion).toBeGreaterThanOrEqual(version * 10000);
    const health = await slotHealth(url, slot);
    expect(health).toMatchObject({
      exists: true,
      plugin: 'pgoutput',
      database: db,
      temporary: false,
      confirmedFlushLsn: created.consistentPoint,
      walStatus: 'reserved',
      safeWalSize: null, // max_slot_wal_keep_size = -1: unlimited
      lost: false,
    });
    expect(health.restartLsn).not.toBeNull();
    expect(health.retainedWalBytes).toBeGreaterThanOrEqual(0n);

    const again = await createSlotWithSnapshot({ connectionString: url, slot }).catch(
      (e: unknown) => e,
    );
    expect(again).toBeInstanceOf(SlotError);
    expect((again as SlotError).code).toBe('slot_exists');
    expect((again as SlotError).sqlstate).toBe('42710');
    expect((again as SlotError).message).not.toContain(cluster.password);
    await created.release();
    await created.release();

    // Active in a stream: dropSlot refuses unless told to end the walsender.
    const stream = new ReplicationStream({
      connectionString: url,
      slot,
      publication: 'none_needed',
    });
    await cluster.sql('CREATE PUBLICATION none_needed', [], db);
    await stream.start();
    const busy = await dropSlot(url, slot).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(SlotInUseError);
    expect((busy as SlotInUseError).activePid).toBeGreaterThan(0);
    const inUse = await slotHealth(url, slot);
    expect(() => assertSlotUsable(inUse, 'src')).toThrow(SlotInUseError);
    expect(await dropSlot(url, slot, { terminateActive: true })).toBe(true);
    await stream.close();
    expect(await dropSlot(url, slot)).toBe(false);
    expect(await getSlot(url, slot)).toBeUndefined();
  });

  test('prepareSlot creates a missing slot and resumes an existing one', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    const url = cluster.urlFor(db);
    const slot = uniqueName('kuvasz_prep');
    const first = await prepareSlot({ connectionString: url, slot });
    if (first.kind !== 'created') throw new Error('expected a new slot');
    expect(first.created.snapshotName).toBeTruthy();
    await first.created.release();
    const second = await prepareSlot({ connectionString: url, slot });
    expect(second.kind).toBe('existing');
    expect(second.kind === 'existing' && second.health.confirmedFlushLsn).toBe(
      first.created.consistentPoint,
    );
    await cluster.dropSlots(db);
  });

  test('a slot of another plugin is refused', async () => {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    const slot = uniqueName('kuvasz_decoding');
    await cluster.sql("SELECT pg_create_logical_replication_slot($1, 'test_decoding')", [slot], db);
    const health = await slotHealth(cluster.urlFor(db), slot);
    expect(() => assertSlotUsable(health, 'src')).toThrow(/test_decoding/);
    await cluster.dropSlots(db);
  });
});

describe('a lost slot (PostgreSQL 17, max_slot_wal_keep_size = 1MB)', () => {
  test('is reported by slotHealth, preflight and the stream as needing a full resync', async () => {
    const cluster = await startPostgres({
      version: 17,
      settings: { max_slot_wal_keep_size: '1MB', wal_keep_size: 0 },
    });
    try {
      const db = await cluster.createDatabase();
      const url = cluster.urlFor(db);
      const slot = uniqueName('kuvasz_lost');
      const created = await createSlotWithSnapshot({ connectionString: url, slot });
      await created.release();
      await cluster.sql('CREATE PUBLICATION p; CREATE TABLE filler (v text)', [], db);
      await waitFor(
        async () => {
          await cluster.sql(
            "INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 20000)",
            [],
            db,
          );
          await cluster.sql('SELECT pg_switch_wal()');
          await cluster.sql('CHECKPOINT');
          return (await slotHealth(url, slot)).lost;
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      const health = await slotHealth(url, slot);
      expect(health.walStatus).toBe('lost');
      expect(health.invalidationReason).toBe('wal_removed');
      let err: unknown;
      try {
        assertSlotUsable(health, 'src');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SlotLostError);
      expect((err as SlotLostError).message).toContain('full resync');
      expect((err as SlotLostError).message).toContain('pg_drop_replication_slot');

      const report = await preflight({ connectionString: url, tables: [], publication: 'p', slot });
      expect(report.problems.map((p) => p.code)).toContain('slot_lost');

      const stream = new ReplicationStream({ connectionString: url, slot, publication: 'p' });
      const failed = await stream.start().catch((e: unknown) => e);
      await stream.close();
      expect(failed).toBeInstanceOf(SlotLostError);
      expect(failed).not.toBeInstanceOf(StreamError);
    } finally {
      await cluster.stop();
    }
  });
});
