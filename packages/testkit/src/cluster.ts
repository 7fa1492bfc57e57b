import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { TestkitError } from './errors.js';
import type { TlsFiles } from './tls.js';
import { waitFor } from './wait-for.js';

export type Backend = 'embedded' | 'testcontainers' | 'external';

/** Server settings passed as `-c name=value`; later entries win over the kit's defaults. */
export type ServerSettings = Record<string, string | number | boolean>;

/** Settings every cluster starts with, so logical replication tests work out of the box. */
export const DEFAULT_SETTINGS: ServerSettings = {
  wal_level: 'logical',
  max_replication_slots: 64,
  max_wal_senders: 64,
  max_connections: 200,
  max_logical_replication_workers: 16,
  max_worker_processes: 24,
  // Throwaway clusters: durability against an OS crash buys nothing here and costs seconds.
  fsync: 'off',
  full_page_writes: 'off',
};

export interface SlotInfo {
  slot_name: string;
  database: string | null;
  active: boolean;
  active_pid: number | null;
}

/** What a backend must provide; the rest of a cluster's behaviour is shared. */
export interface ClusterLifecycle {
  stop(): Promise<void>;
  /** Stops and starts the server on the same port and data directory. */
  restart(): Promise<void>;
  /** Stops the server the hard way (SIGKILL of the postmaster), keeping its data. */
  kill?(): Promise<void>;
  /** Starts a server stopped by `kill()`. */
  start?(): Promise<void>;
}

export interface ClusterInit {
  backend: Backend;
  host: string;
  port: number;
  user: string;
  password: string;
  version: number;
  lifecycle: ClusterLifecycle;
  dataDir?: string;
  tls?: TlsFiles;
}

/** A running PostgreSQL server owned by a test, with helpers for the common chores. */
export class PgCluster {
  readonly backend: Backend;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Never logged by the kit; tests use it to assert it never appears in output. */
  readonly password: string;
  /** Server major version as reported by `server_version_num`. */
  readonly version: number;
  readonly dataDir: string | undefined;
  /** Certificates and keys when started with `tls: true` (server TLS on, client certificates accepted). */
  readonly tls: TlsFiles | undefined;
  private readonly lifecycle: ClusterLifecycle;
  private readonly createdDatabases = new Set<string>();
  private stopped = false;

  constructor(init: ClusterInit) {
    this.backend = init.backend;
    this.host = init.host;
    this.port = init.port;
    this.user = init.user;
    this.password = init.password;
    this.version = init.version;
    this.dataDir = init.dataDir;
    this.tls = init.tls;
    this.lifecycle = init.lifecycle;
  }

  /** URL of the `postgres` database. */
  get url(): string {
    return this.urlFor('postgres');
  }

  urlFor(database: string, credentials?: { user: string; password?: string }): string {
    const user = encodeURIComponent(credentials?.user ?? this.user);
    const pw = credentials ? credentials.password : this.password;
    const auth = pw === undefined ? user : `${user}:${encodeURIComponent(pw)}`;
    return `postgres://${auth}@${this.host}:${this.port}/${encodeURIComponent(database)}`;
  }

  /** Opens a client; the caller ends it. */
  async connect(database = 'postgres', extra: pg.ClientConfig = {}): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.urlFor(database), ...extra });
    await client.connect();
    return client;
  }

  /** Runs one statement on a short-lived connection and returns its rows. */
  async sql<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    params: unknown[] = [],
    database = 'postgres',
  ): Promise<R[]> {
    const client = await this.connect(database);
    try {
      const res = await client.query<R>(text, params);
      return res.rows;
    } finally {
      await client.end();
    }
  }

  /** Creates a database with a unique name (or the given one) and returns its name. */
  async createDatabase(name = `t_${randomBytes(5).toString('hex')}`): Promise<string> {
    await this.sql(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    this.createdDatabases.add(name);
    return name;
  }

  async slots(database?: string): Promise<SlotInfo[]> {
    return this.sql<SlotInfo & Record<string, unknown>>(
      `SELECT slot_name, database, active, active_pid
         FROM pg_replication_slots
        WHERE $1::text IS NULL OR database = $1
        ORDER BY slot_name`,
      [database ?? null],
    );
  }

  /**
   * Fails when a replication slot is still active (some connection is
   * streaming from it) after a grace period: a test left a stream open.
   * Walsenders exit a moment after their client disconnects, hence the grace.
   */
  async assertNoLeakedSlots(options: { database?: string; graceMs?: number } = {}): Promise<void> {
    const grace = options.graceMs ?? 3000;
    let active: SlotInfo[] = [];
    try {
      await waitFor(
        async () => {
          active = (await this.slots(options.database)).filter((s) => s.active);
          return active.length === 0;
        },
        { timeoutMs: grace, intervalMs: 100, message: 'replication slots to become inactive' },
      );
    } catch {
      const list = active
        .map((s) => `${s.slot_name} (database ${s.database}, walsender pid ${s.active_pid})`)
        .join(', ');
      throw new TestkitError(
        'leaked_slot',
        `leaked active replication slot(s): ${list}; the test must close its replication connections (and drop its slots) before it ends`,
      );
    }
  }

  /** Drops every slot (of one database, or all), terminating their walsenders first. */
  async dropSlots(database?: string): Promise<string[]> {
    const dropped: string[] = [];
    for (const slot of await this.slots(database)) {
      if (slot.active_pid !== null) {
        await this.sql('SELECT pg_terminate_backend($1)', [slot.active_pid]);
      }
      await waitFor(
        async () => {
          const rows = await this.sql<{ active: boolean }>(
            'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
            [slot.slot_name],
          );
          return rows.length === 0 || !rows[0]?.active;
        },
        { timeoutMs: 10_000, message: `slot ${slot.slot_name} to be released` },
      );
      await this.sql(
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
        [slot.slot_name],
      );
      dropped.push(slot.slot_name);
    }
    return dropped;
  }

  async restart(): Promise<void> {
    await this.lifecycle.restart();
  }

  /** SIGKILL of the postmaster: a crash, for fault tests. `start()` brings it back. */
  async kill(): Promise<void> {
    if (!this.lifecycle.kill) {
      throw new TestkitError(
        'backend_unavailable',
        `the ${this.backend} backend cannot kill its server`,
      );
    }
    await this.lifecycle.kill();
  }

  async start(): Promise<void> {
    if (!this.lifecycle.start) {
      throw new TestkitError(
        'backend_unavailable',
        `the ${this.backend} backend cannot start a stopped server`,
      );
    }
    await this.lifecycle.start();
  }

  /** Stops the server and removes its data; safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.lifecycle.stop();
  }

  /** Databases made by `createDatabase`, for backends that must drop them on stop. */
  get databases(): readonly string[] {
    return [...this.createdDatabases];
  }
}

export async function serverMajor(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query<{ v: string }>('SHOW server_version_num');
    return Math.floor(Number(res.rows[0]?.v) / 10000);
  } finally {
    await client.end();
  }
}

export function settingsToFlags(settings: ServerSettings): string[] {
  return Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${String(v)}`]);
}
