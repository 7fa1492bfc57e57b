import { messageOf, parseLsn, redactPasswords, sqlstateOf } from '@kuvasz/core';
import type pg from 'pg';
import { type ConnectOptions, majorVersion, openClient } from './connection.js';
import { CopyBothQuery, type CopyBothStream } from './copy-both.js';
import { ReplicationError, SlotError } from './errors.js';
import { replicationLiteral } from './sql.js';

export type { CopyBothStream } from './copy-both.js';

export interface CreatedSlotRow {
  slotName: string;
  consistentPoint: bigint;
  snapshotName: string | undefined;
}

/**
 * One walsender connection (`replication=database`), wrapped once: the
 * replication commands this package uses, typed, with errors that name the
 * slot and the fix. Plain SQL runs too, through the simple query protocol
 * (the only one a walsender speaks), so statements carry no parameters.
 */
export class ReplicationConnection {
  readonly url: string;
  private versionNum: number | undefined;
  private ended = false;
  private readonly endListeners = new Set<(err: Error | undefined) => void>();

  private constructor(
    readonly client: pg.Client,
    connectionString: string,
  ) {
    this.url = redactPasswords(connectionString);
    client.on('error', (err) => this.markEnded(err));
    client.on('end', () => this.markEnded(undefined));
  }

  static async open(
    connectionString: string,
    options: ConnectOptions = {},
  ): Promise<ReplicationConnection> {
    const client = await openClient(connectionString, { ...options, replication: true });
    return new ReplicationConnection(client, connectionString);
  }

  /** True once the connection broke or was closed. */
  get isEnded(): boolean {
    return this.ended;
  }

  /** Calls `listener` once when the connection ends (with the error, if it broke). */
  onEnd(listener: (err: Error | undefined) => void): () => void {
    if (this.ended) {
      queueMicrotask(() => listener(undefined));
      return () => {};
    }
    this.endListeners.add(listener);
    return () => this.endListeners.delete(listener);
  }

  private markEnded(err: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    for (const l of this.endListeners) l(err);
    this.endListeners.clear();
  }

  async sql<R extends Record<string, unknown>>(text: string, doing: string): Promise<R[]> {
    try {
      const res = await this.client.query<R>(text);
      return res.rows;
    } catch (e) {
      throw new ReplicationError(
        'query_failed',
        `${this.url}: ${doing} failed: ${redactPasswords(messageOf(e))}`,
        { cause: e, sqlstate: sqlstateOf(e) },
      );
    }
  }

  async serverVersionNum(): Promise<number> {
    if (this.versionNum === undefined) {
      const rows = await this.sql<{ server_version_num: string }>(
        'SHOW server_version_num',
        'reading server_version_num',
      );
      this.versionNum = Number(rows[0]?.server_version_num);
    }
    return this.versionNum;
  }

  async serverMajor(): Promise<number> {
    return majorVersion(await this.serverVersionNum());
  }

  /**
   * CREATE_REPLICATION_SLOT ... LOGICAL pgoutput, exporting a snapshot when
   * asked. The exported snapshot lives until this connection's next command.
   */
  async createLogicalSlot(
    slot: string,
    options: { temporary: boolean; exportSnapshot: boolean },
  ): Promise<CreatedSlotRow> {
    const major = await this.serverMajor();
    const temp = options.temporary ? ' TEMPORARY' : '';
    // PostgreSQL 15 introduced the option list; the old keywords still work
    // there but are documented as deprecated.
    const snapshot =
      major >= 15
        ? ` (SNAPSHOT ${replicationLiteral(options.exportSnapshot ? 'export' : 'nothing')})`
        : options.exportSnapshot
          ? ' EXPORT_SNAPSHOT'
          : ' NOEXPORT_SNAPSHOT';
    const text = `CREATE_REPLICATION_SLOT "${slot}"${temp} LOGICAL pgoutput${snapshot}`;
    let row: Record<string, unknown> | undefined;
    try {
      const res = await this.client.query(text);
      row = res.rows[0];
    } catch (e) {
      throw slotCreateError(slot, this.url, e);
    }
    const consistentPoint = String(row?.consistent_point ?? '');
    const snapshotName = row?.snapshot_name;
    return {
      slotName: String(row?.slot_name ?? slot),
      consistentPoint: parseLsn(consistentPoint),
      snapshotName: typeof snapshotName === 'string' ? snapshotName : undefined,
    };
  }

  /** Sends START_REPLICATION; the returned stream emits one 'data' event per CopyData payload. */
  startReplication(command: string): CopyBothStream {
    const query = new CopyBothQuery(command);
    this.client.query(query as unknown as pg.Submittable);
    return query;
  }

  /** Ends the connection (a walsender exits and releases its slots; temporary ones are dropped). */
  async close(): Promise<void> {
    if (this.ended) {
      // The socket may still be open when only the query failed.
      this.client.end().catch(() => {});
      return;
    }
    this.markEnded(undefined);
    await Promise.race([
      this.client.end().catch(() => {}),
      new Promise<void>((resolve) => setTimeout(resolve, 5000).unref()),
    ]);
    // Still open after the grace period (a walsender busy sending): cut it.
    const conn = (this.client as unknown as { connection?: { stream?: { destroy(): void } } })
      .connection;
    conn?.stream?.destroy();
  }
}

function slotCreateError(slot: string, url: string, e: unknown): SlotError {
  const state = sqlstateOf(e);
  const msg = redactPasswords(messageOf(e));
  const quoted = replicationLiteral(slot);
  switch (state) {
    case '42710':
      return new SlotError(
        slot,
        `${url}: replication slot "${slot}" already exists; resume it with ReplicationStream (it keeps its position), or for a full resync drop it first (dropSlot, or SELECT pg_drop_replication_slot(${quoted}))`,
        { cause: e, sqlstate: state, code: 'slot_exists' },
      );
    case '53400':
      return new SlotError(
        slot,
        `${url}: cannot create replication slot "${slot}": ${msg}; raise max_replication_slots in postgresql.conf (restart needed) or drop unused slots (SELECT slot_name FROM pg_replication_slots WHERE NOT active)`,
        { cause: e, sqlstate: state },
      );
    case '55000':
      return new SlotError(
        slot,
        `${url}: cannot create replication slot "${slot}": ${msg}; set wal_level = logical in postgresql.conf and restart the server`,
        { cause: e, sqlstate: state },
      );
    case '42501':
      return new SlotError(
        slot,
        `${url}: cannot create replication slot "${slot}": ${msg}; grant the role replication rights (ALTER ROLE ... WITH REPLICATION)`,
        { cause: e, sqlstate: state },
      );
    default:
      return new SlotError(slot, `${url}: cannot create replication slot "${slot}": ${msg}`, {
        cause: e,
        sqlstate: state,
      });
  }
}
