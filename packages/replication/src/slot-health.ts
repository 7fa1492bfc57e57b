import {
  type Logger,
  messageOf,
  noopLogger,
  parseLsn,
  redactPasswords,
  sqlstateOf,
} from '@kuvasz/core';
import type pg from 'pg';
import {
  describeSqlTarget,
  majorVersion,
  query,
  type SqlTarget,
  serverVersionNum,
  withClient,
} from './connection.js';
import { SlotError, SlotInUseError, SlotLostError } from './errors.js';
import { replicationLiteral } from './sql.js';

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

/** The health of a slot that does not exist: `exists: false` and nulls. */
export function missingSlot(slot: string): SlotHealth {
  return {
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
  };
}

/** The slot's health; `exists: false` (and nulls) when there is no such slot. */
export async function slotHealth(target: SqlTarget, slot: string): Promise<SlotHealth> {
  return (await getSlot(target, slot)) ?? missingSlot(slot);
}

export function slotHealthSql(major: number, many = false): string {
  return `SELECT ${many ? 'slot_name, ' : ''}plugin, database, temporary, active, active_pid,
          restart_lsn::text AS restart_lsn, confirmed_flush_lsn::text AS confirmed_flush_lsn,
          ${major >= 13 ? 'wal_status' : 'NULL::text'} AS wal_status,
          ${major >= 13 ? 'safe_wal_size::text' : 'NULL::text'} AS safe_wal_size,
          ${major >= 17 ? 'invalidation_reason' : 'NULL::text'} AS invalidation_reason,
          ${major >= 16 ? 'conflicting' : 'NULL::bool'} AS conflicting,
          CASE WHEN restart_lsn IS NULL THEN NULL
               ELSE pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                                         ELSE pg_current_wal_lsn() END, restart_lsn)::int8::text
          END AS retained
     FROM pg_replication_slots WHERE ${many ? 'slot_name = ANY($1::text[])' : 'slot_name = $1'}`;
}

/**
 * The health of many slots of one server in one query (slots are
 * server-wide, so any database of the server answers for all of them);
 * slots that do not exist come back as `missingSlot`.
 */
export async function slotsHealth(
  target: SqlTarget,
  slots: readonly string[],
): Promise<Map<string, SlotHealth>> {
  return withClient(target, async (client) => {
    const major = majorVersion(await serverVersionNum(client));
    const rows = await query<SlotRow & { slot_name: string }>(
      client,
      slotHealthSql(major, true),
      [slots],
      'reading replication slots',
    );
    const out = new Map<string, SlotHealth>(slots.map((s) => [s, missingSlot(s)]));
    for (const r of rows) out.set(r.slot_name, slotHealthFromRow(r.slot_name, r));
    return out;
  });
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
        await terminateHolder(client, slot, where, deadline);
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
          `${where}: cannot drop replication slot "${slot}": ${redactPasswords(messageOf(e))}`,
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

/**
 * Frees a slot that another process still streams (a fleet instance that
 * lost the source but is paused, cut off or still stopping): terminates the
 * walsender holding it and waits until the slot is inactive. Call it only
 * once this process is entitled to the slot (its lease is taken); the other
 * process is fenced off from the destination. Returns the first pid
 * terminated, or undefined when the slot was free already. Terminating another role's
 * walsender needs pg_signal_backend; the same role may always.
 */
export async function takeOverSlot(
  target: SqlTarget,
  slot: string,
  timeoutMs = 10_000,
): Promise<number | undefined> {
  const where = describeSqlTarget(target);
  return withClient(target, (client) =>
    terminateHolder(client, slot, where, Date.now() + timeoutMs),
  );
}

/**
 * Terminates the walsender holding the slot, again if another takes it
 * meanwhile, until the slot is inactive; SlotInUseError past `deadline`.
 * Returns the first pid terminated, or undefined when the slot was free.
 */
async function terminateHolder(
  client: pg.ClientBase,
  slot: string,
  where: string,
  deadline: number,
): Promise<number | undefined> {
  let first: number | undefined;
  for (;;) {
    const health = await getSlot(client, slot);
    if (!health?.active) return first;
    if (Date.now() > deadline) {
      throw new SlotInUseError(
        slot,
        health.activePid ?? undefined,
        `${where}: replication slot "${slot}" stayed active after terminating server process ${health.activePid ?? '?'}; try again`,
      );
    }
    if (health.activePid !== null) {
      first ??= health.activePid;
      await query(
        client,
        'SELECT pg_terminate_backend($1)',
        [health.activePid],
        'terminating the walsender',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
