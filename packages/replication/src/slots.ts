import { randomBytes } from 'node:crypto';
import { formatLsn, parseLsn } from '@kuvasz/pgoutput';
import {
  type ConnectOptions,
  describeSqlTarget,
  majorVersion,
  query,
  type SqlTarget,
  serverVersionNum,
  withClient,
} from './connection.js';
import { messageOf, SlotError, SlotInUseError, SlotLostError, sqlstateOf } from './errors.js';
import { type Logger, noopLogger } from './logger.js';
import { assertValidSlotName } from './naming.js';
import { redactUrl } from './redact.js';
import { ReplicationConnection } from './replication-connection.js';
import { replicationLiteral } from './sql.js';

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

export type WalStatus = 'reserved' | 'extended' | 'unreserved' | 'lost';

/** What the server says about a slot. Fields PostgreSQL 12 lacks are null there. */
export interface SlotHealth {
  slot: string;
  exists: boolean;
  plugin: string | null;
  database: string | null;
  temporary: boolean | null;
  active: boolean;
  activePid: number | null;
  restartLsn: bigint | null;
  confirmedFlushLsn: bigint | null;
  /** PostgreSQL 13+. */
  walStatus: WalStatus | null;
  /** WAL the slot keeps on disk: current WAL position minus `restart_lsn`. */
  retainedWalBytes: bigint | null;
  /** PostgreSQL 13+: bytes that can still be written before the slot is lost (null: unlimited). */
  safeWalSize: bigint | null;
  /** PostgreSQL 17+: why the slot was invalidated. */
  invalidationReason: string | null;
  /** Invalidated: its changes are gone, a full resync is needed. */
  lost: boolean;
}

export interface SlotRow {
  plugin: string | null;
  database: string | null;
  temporary: boolean;
  active: boolean;
  active_pid: number | null;
  restart_lsn: string | null;
  confirmed_flush_lsn: string | null;
  wal_status: string | null;
  safe_wal_size: string | null;
  invalidation_reason: string | null;
  conflicting: boolean | null;
  retained: string | null;
}

/** The slot's health, or undefined when it does not exist. */
export async function getSlot(target: SqlTarget, slot: string): Promise<SlotHealth | undefined> {
  return withClient(target, async (client) => {
    const major = majorVersion(await serverVersionNum(client));
    const rows = await query<SlotRow>(client, slotHealthSql(major), [slot], `reading slot ${slot}`);
    return rows[0] ? slotHealthFromRow(slot, rows[0]) : undefined;
  });
}

/** Converts a row of `slotHealthSql` (package-internal: the stream runs it on its walsender). */
export function slotHealthFromRow(slot: string, r: SlotRow): SlotHealth {
  const lost = r.wal_status === 'lost' || r.invalidation_reason !== null || r.conflicting === true;
  return {
    slot,
    exists: true,
    plugin: r.plugin,
    database: r.database,
    temporary: r.temporary,
    active: r.active,
    activePid: r.active_pid,
    restartLsn: r.restart_lsn === null ? null : parseLsn(r.restart_lsn),
    confirmedFlushLsn: r.confirmed_flush_lsn === null ? null : parseLsn(r.confirmed_flush_lsn),
    walStatus: (r.wal_status as WalStatus | null) ?? null,
    retainedWalBytes: r.retained === null ? null : BigInt(r.retained),
    safeWalSize: r.safe_wal_size === null ? null : BigInt(r.safe_wal_size),
    invalidationReason: r.invalidation_reason,
    lost,
  };
}

/** The slot's health; `exists: false` (and nulls) when there is no such slot. */
export async function slotHealth(target: SqlTarget, slot: string): Promise<SlotHealth> {
  return (
    (await getSlot(target, slot)) ?? {
      slot,
      exists: false,
      plugin: null,
      database: null,
      temporary: null,
      active: false,
      activePid: null,
      restartLsn: null,
      confirmedFlushLsn: null,
      walStatus: null,
      retainedWalBytes: null,
      safeWalSize: null,
      invalidationReason: null,
      lost: false,
    }
  );
}

export function slotHealthSql(major: number): string {
  return `SELECT plugin, database, temporary, active, active_pid,
          restart_lsn::text AS restart_lsn, confirmed_flush_lsn::text AS confirmed_flush_lsn,
          ${major >= 13 ? 'wal_status' : 'NULL::text'} AS wal_status,
          ${major >= 13 ? 'safe_wal_size::text' : 'NULL::text'} AS safe_wal_size,
          ${major >= 17 ? 'invalidation_reason' : 'NULL::text'} AS invalidation_reason,
          ${major >= 16 ? 'conflicting' : 'NULL::bool'} AS conflicting,
          CASE WHEN restart_lsn IS NULL THEN NULL
               ELSE pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                                         ELSE pg_current_wal_lsn() END, restart_lsn)::int8::text
          END AS retained
     FROM pg_replication_slots WHERE slot_name = $1`;
}

/** The message of a `SlotLostError`: the fact, and how to resync. */
export function slotLostMessage(where: string, slot: string, reason: string): string {
  return `${where}: replication slot "${slot}" was invalidated (${reason}): the WAL it needed is gone and changes were lost. A full resync is needed: drop the slot (dropSlot, or SELECT pg_drop_replication_slot(${replicationLiteral(slot)})) and start again so that the streamer creates it and copies every table. Raise max_slot_wal_keep_size (and watch retained WAL) to avoid this`;
}

/**
 * Throws the typed error that stops a stream from using this slot: missing
 * (`SlotError` slot_missing), invalidated (`SlotLostError`), another plugin,
 * or active in another process (`SlotInUseError`, retryable).
 */
export function assertSlotUsable(health: SlotHealth, where: string, ownPid?: number): void {
  const { slot } = health;
  if (!health.exists) {
    throw new SlotError(
      slot,
      `${where}: replication slot "${slot}" does not exist; create it (createSlotWithSnapshot) and copy the tables again, since changes since it disappeared are lost`,
      { code: 'slot_missing' },
    );
  }
  if (health.lost) {
    const reason = health.invalidationReason ?? `wal_status '${health.walStatus ?? 'lost'}'`;
    throw new SlotLostError(slot, slotLostMessage(where, slot, reason));
  }
  if (health.plugin !== 'pgoutput') {
    throw new SlotError(
      slot,
      `${where}: replication slot "${slot}" uses output plugin ${JSON.stringify(health.plugin)}, not pgoutput; drop it or choose another slot name`,
    );
  }
  if (health.active && health.activePid !== ownPid) {
    throw new SlotInUseError(
      slot,
      health.activePid ?? undefined,
      `${where}: replication slot "${slot}" is in use by server process ${health.activePid ?? '?'}; another streamer (or a stuck walsender) reads it. Retrying later; to free it: SELECT pg_terminate_backend(${health.activePid ?? 'active_pid'})`,
    );
  }
}

/**
 * Drops a slot: only for an explicit teardown, never as a side effect. An
 * active slot is refused with `SlotInUseError` unless `terminateActive`,
 * which ends the walsender holding it first. Returns false when there was
 * no such slot.
 */
export async function dropSlot(
  target: SqlTarget,
  slot: string,
  options: { terminateActive?: boolean; timeoutMs?: number; logger?: Logger } = {},
): Promise<boolean> {
  const where = describeSqlTarget(target);
  return withClient(target, async (client) => {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    for (;;) {
      const health = await getSlot(client, slot);
      if (!health) return false;
      if (health.active) {
        if (!options.terminateActive) {
          throw new SlotInUseError(
            slot,
            health.activePid ?? undefined,
            `${where}: cannot drop replication slot "${slot}": server process ${health.activePid ?? '?'} is using it; stop that streamer first, or pass terminateActive: true`,
          );
        }
        if (Date.now() > deadline) {
          throw new SlotInUseError(
            slot,
            health.activePid ?? undefined,
            `${where}: replication slot "${slot}" stayed active after terminating server process ${health.activePid ?? '?'}; try again`,
          );
        }
        if (health.activePid !== null) {
          await query(
            client,
            'SELECT pg_terminate_backend($1)',
            [health.activePid],
            'terminating the walsender',
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      try {
        await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
      } catch (e) {
        const state = sqlstateOf(e);
        if (state === '42704') return false;
        if (state === '55006' && options.terminateActive && Date.now() < deadline) continue;
        throw new SlotError(
          slot,
          `${where}: cannot drop replication slot "${slot}": ${redactUrl(messageOf(e))}`,
          {
            cause: e,
            sqlstate: state,
          },
        );
      }
      (options.logger ?? noopLogger).info({ slot }, 'replication slot dropped');
      return true;
    }
  });
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
  const where = redactUrl(options.connectionString);
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
