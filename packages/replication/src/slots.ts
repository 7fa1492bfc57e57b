import { randomBytes } from 'node:crypto';
import { formatLsn, type Logger, noopLogger, redactPasswords } from '@kuvasz/core';
import type { ConnectOptions } from './connection.js';
import { SlotError } from './errors.js';
import { assertValidSlotName } from './naming.js';
import { ReplicationConnection } from './replication-connection.js';
import { assertSlotUsable, getSlot, type SlotHealth, slotHealth } from './slot-health.js';

export interface CreateSlotOptions extends ConnectOptions {
  connectionString: string;
  slot: string;
  logger?: Logger;
}

/**
 * A new persistent slot whose creating connection is still open and idle,
 * keeping `snapshotName` importable. Import it in every copy transaction
 * (`BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT '...'`),
 * then either pass this object to `new ReplicationStream({ createdSlot })`,
 * which starts streaming on this very connection at `consistentPoint` (no gap,
 * no overlap with the copies), or call `release()`.
 */
export interface CreatedSlot {
  readonly slot: string;
  /** The LSN the snapshot corresponds to: the stream starts here. */
  readonly consistentPoint: bigint;
  readonly snapshotName: string;
  /** `server_version_num` of the source. */
  readonly serverVersion: number;
  /** True while the creating connection is open and not yet handed to a stream. */
  readonly held: boolean;
  /** Closes the creating connection (the slot stays). Idempotent; a no-op once a stream took it. */
  release(): Promise<void>;
}

class HeldSlot implements CreatedSlot {
  private conn: ReplicationConnection | undefined;

  constructor(
    conn: ReplicationConnection,
    readonly slot: string,
    readonly consistentPoint: bigint,
    readonly snapshotName: string,
    readonly serverVersion: number,
  ) {
    this.conn = conn;
  }

  get held(): boolean {
    return this.conn !== undefined && !this.conn.isEnded;
  }

  take(): ReplicationConnection | undefined {
    const conn = this.conn;
    this.conn = undefined;
    return conn && !conn.isEnded ? conn : undefined;
  }

  async release(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    await conn?.close();
  }
}

/** Hands the creating connection over to a stream (package-internal). */
export function takeCreatedSlotConnection(created: CreatedSlot): ReplicationConnection | undefined {
  return created instanceof HeldSlot ? created.take() : undefined;
}

/**
 * Creates a persistent `pgoutput` slot that exports a snapshot, and keeps
 * the exporting session open (see `CreatedSlot`). Fails with
 * `SlotError` code `slot_exists` when the slot is already there: resume it
 * instead (its position is kept by the server).
 */
export async function createSlotWithSnapshot(options: CreateSlotOptions): Promise<CreatedSlot> {
  assertValidSlotName(options.slot);
  const log = (options.logger ?? noopLogger).child({ slot: options.slot });
  const conn = await ReplicationConnection.open(options.connectionString, {
    applicationName: options.applicationName ?? options.slot,
    ...(options.connectTimeoutMs === undefined
      ? {}
      : { connectTimeoutMs: options.connectTimeoutMs }),
  });
  try {
    const version = await conn.serverVersionNum();
    const row = await conn.createLogicalSlot(options.slot, {
      temporary: false,
      exportSnapshot: true,
    });
    if (row.snapshotName === undefined) {
      throw new SlotError(
        options.slot,
        `${conn.url}: the server created slot "${options.slot}" but exported no snapshot`,
      );
    }
    log.info(
      { consistentPoint: formatLsn(row.consistentPoint), snapshot: row.snapshotName },
      'replication slot created with an exported snapshot',
    );
    return new HeldSlot(conn, options.slot, row.consistentPoint, row.snapshotName, version);
  } catch (e) {
    await conn.close();
    throw e;
  }
}

export interface TemporarySnapshot {
  /** The temporary slot's name; it disappears when `release()` closes its connection. */
  readonly slot: string;
  readonly snapshotName: string;
  /** The snapshot's LSN: changes committed before it are in the snapshot. */
  readonly lsn: bigint;
  release(): Promise<void>;
}

/**
 * A snapshot with a known LSN from a TEMPORARY slot, for copying tables
 * added later or resuming an interrupted copy: changes of the copied table
 * with a commit LSN below `lsn` are in the copy. Holds one replication slot
 * and one WAL sender until `release()`.
 */
export async function createTemporarySnapshot(
  connectionString: string,
  options: ConnectOptions & { logger?: Logger } = {},
): Promise<TemporarySnapshot> {
  const slot = `kuvasz_tmp_${process.pid}_${randomBytes(4).toString('hex')}`;
  const conn = await ReplicationConnection.open(connectionString, {
    applicationName: options.applicationName ?? slot,
    ...(options.connectTimeoutMs === undefined
      ? {}
      : { connectTimeoutMs: options.connectTimeoutMs }),
  });
  try {
    const row = await conn.createLogicalSlot(slot, { temporary: true, exportSnapshot: true });
    if (row.snapshotName === undefined) {
      throw new SlotError(
        slot,
        `${conn.url}: the server created temporary slot "${slot}" but exported no snapshot`,
      );
    }
    (options.logger ?? noopLogger).info(
      { slot, lsn: formatLsn(row.consistentPoint), snapshot: row.snapshotName },
      'temporary snapshot exported',
    );
    let released = false;
    return {
      slot,
      snapshotName: row.snapshotName,
      lsn: row.consistentPoint,
      release: async () => {
        if (released) return;
        released = true;
        await conn.close();
      },
    };
  } catch (e) {
    await conn.close();
    throw e;
  }
}

export type PreparedSlot =
  | { kind: 'created'; created: CreatedSlot }
  | { kind: 'existing'; health: SlotHealth };

/**
 * The start of every run: an existing usable slot is resumed (`existing`,
 * its position kept by the server), a missing one is created with an
 * exported snapshot (`created`: copy every table in it, then stream with
 * `createdSlot`). A lost slot throws `SlotLostError`, a slot busy elsewhere
 * `SlotInUseError` (retry later).
 */
export async function prepareSlot(options: CreateSlotOptions): Promise<PreparedSlot> {
  const where = redactPasswords(options.connectionString);
  const existing = await getSlot(options.connectionString, options.slot);
  if (existing) {
    assertSlotUsable(existing, where);
    return { kind: 'existing', health: existing };
  }
  try {
    return { kind: 'created', created: await createSlotWithSnapshot(options) };
  } catch (e) {
    // Created by someone else in between: treat it as existing.
    if (e instanceof SlotError && e.code === 'slot_exists') {
      const health = await slotHealth(options.connectionString, options.slot);
      assertSlotUsable(health, where);
      return { kind: 'existing', health };
    }
    throw e;
  }
}
