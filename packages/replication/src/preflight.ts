import { type Logger, noopLogger, redactPasswords } from '@kuvasz/core';
import pg from 'pg';
import {
  type ConnectOptions,
  majorVersion,
  openClient,
  query,
  serverVersionNum,
} from './connection.js';
import { PreflightError, type PreflightProblem } from './errors.js';
import { isValidSlotName } from './naming.js';
import { checkTables } from './preflight-tables.js';
import type { PublicationTable } from './publication.js';
import { ReplicationConnection } from './replication-connection.js';
import { getSlot, slotLostMessage } from './slot-health.js';
import { replicationLiteral } from './sql.js';

export interface PreflightOptions extends ConnectOptions {
  connectionString: string;
  tables: PublicationTable[];
  publication: string;
  slot: string;
  logger?: Logger;
  /**
   * Also open a replication connection and run IDENTIFY_SYSTEM, which proves
   * pg_hba.conf lets the role replicate (default true). It holds a WAL
   * sender for a moment.
   */
  checkReplicationConnection?: boolean;
}

export interface PreflightReport {
  /** The redacted connection string. */
  url: string;
  /** `server_version_num`, e.g. 170004. */
  serverVersion: number;
  /** Blocking: the streamer cannot run until each is fixed. */
  problems: PreflightProblem[];
  /** Not blocking, but worth fixing (e.g. tables that cannot receive UPDATE/DELETE). */
  warnings: PreflightProblem[];
}

export const MIN_SERVER_VERSION_NUM = 120000;

/** The version check on its own (unit-testable with any number). */
export function checkServerVersion(
  versionNum: number,
  versionText = String(versionNum),
): PreflightProblem | undefined {
  if (versionNum >= MIN_SERVER_VERSION_NUM) return undefined;
  return {
    code: 'server_version',
    message: `PostgreSQL ${versionText} is too old: the streamer needs PostgreSQL 12 or later (logical replication with pgoutput and the catalogs it reads); upgrade the source`,
    context: { serverVersion: versionNum, minimum: MIN_SERVER_VERSION_NUM },
  };
}

/**
 * Checks a source before anything is created on it, and reports every
 * problem at once (each message names the setting and the fix). Read-only,
 * except the optional replication connection test. An unreachable server or
 * a refused login throws `ConnectionError` instead.
 */
export async function preflight(options: PreflightOptions): Promise<PreflightReport> {
  const url = redactPasswords(options.connectionString);
  const log = (options.logger ?? noopLogger).child({ source: url });
  const client = await openClient(options.connectionString, options);
  const problems: PreflightProblem[] = [];
  const warnings: PreflightProblem[] = [];
  let versionNum = 0;
  try {
    versionNum = await serverVersionNum(client);
    const [versionText] = await query<{ server_version: string }>(
      client,
      'SHOW server_version',
      undefined,
      'reading server_version',
    );
    const tooOld = checkServerVersion(versionNum, versionText?.server_version);
    if (tooOld) problems.push(tooOld);

    const settings = await readSettings(client);
    if (settings.wal_level !== 'logical') {
      problems.push({
        code: 'wal_level',
        message: `wal_level is '${settings.wal_level}'; set wal_level = logical in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart the server`,
        context: { setting: 'wal_level', value: settings.wal_level, required: 'logical' },
      });
    }
    const role = await checkRole(client, problems);
    if (!isValidSlotName(options.slot)) {
      problems.push({
        code: 'invalid_slot_name',
        message: `replication slot name ${JSON.stringify(options.slot)} is invalid: only lower-case letters, digits and underscores, 1 to 63 characters`,
        context: { slot: options.slot },
      });
    } else {
      await checkSlots(client, options.slot, settings, problems, warnings, url);
    }
    const sendersOk = await checkWalSenders(client, settings, problems, warnings);
    if (tooOld === undefined) {
      await checkTables(client, {
        tables: options.tables,
        publication: options.publication,
        role,
        major: majorVersion(versionNum),
        problems,
        warnings,
      });
    }
    if (
      options.checkReplicationConnection !== false &&
      role.canReplicate &&
      sendersOk &&
      settings.wal_level === 'logical'
    ) {
      await checkReplicationConnection(options, problems);
    }
  } finally {
    await client.end().catch(() => {});
  }
  for (const p of problems) log.warn({ code: p.code, ...p.context }, p.message);
  for (const w of warnings) log.info({ code: w.code, ...w.context }, w.message);
  return { url, serverVersion: versionNum, problems, warnings };
}

/** Throws one `PreflightError` listing every problem of the report; warnings never throw. */
export function assertPreflight(report: PreflightReport): void {
  if (report.problems.length > 0) {
    throw new PreflightError(report.url, report.problems, report.warnings);
  }
}

interface Settings {
  wal_level: string;
  max_replication_slots: number;
  max_wal_senders: number;
}

async function readSettings(client: pg.ClientBase): Promise<Settings> {
  const rows = await query<{ name: string; setting: string }>(
    client,
    `SELECT name, setting FROM pg_settings
      WHERE name IN ('wal_level', 'max_replication_slots', 'max_wal_senders')`,
    undefined,
    'reading the replication settings',
  );
  const get = (n: string) => rows.find((r) => r.name === n)?.setting ?? '';
  return {
    wal_level: get('wal_level'),
    max_replication_slots: Number(get('max_replication_slots')),
    max_wal_senders: Number(get('max_wal_senders')),
  };
}

export interface RoleInfo {
  name: string;
  superuser: boolean;
  canReplicate: boolean;
}

async function checkRole(client: pg.ClientBase, problems: PreflightProblem[]): Promise<RoleInfo> {
  // Managed services (RDS, Aurora) grant replication through membership in
  // rds_replication instead of the REPLICATION attribute.
  const [r] = await query<{ name: string; superuser: boolean; replication: boolean; rds: boolean }>(
    client,
    `SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolreplication AS replication,
            COALESCE((SELECT pg_has_role(current_user, x.oid, 'MEMBER')
                        FROM pg_roles x WHERE x.rolname = 'rds_replication'), false) AS rds
       FROM pg_roles r WHERE r.rolname = current_user`,
    undefined,
    'reading the role attributes',
  );
  const role: RoleInfo = {
    name: r?.name ?? '?',
    superuser: r?.superuser === true,
    canReplicate: r?.superuser === true || r?.replication === true || r?.rds === true,
  };
  if (!role.canReplicate) {
    const ident = pg.escapeIdentifier(role.name);
    problems.push({
      code: 'replication_role',
      message: `role ${ident} has neither the REPLICATION attribute nor SUPERUSER, so it cannot create or read replication slots; as a superuser run ALTER ROLE ${ident} WITH REPLICATION`,
      context: { role: role.name },
    });
  }
  return role;
}

async function checkSlots(
  client: pg.ClientBase,
  slot: string,
  settings: Settings,
  problems: PreflightProblem[],
  warnings: PreflightProblem[],
  url: string,
): Promise<void> {
  const rows = await query<{ slot_name: string; active: boolean; database: string | null }>(
    client,
    'SELECT slot_name, active, database FROM pg_replication_slots ORDER BY slot_name',
    undefined,
    'reading the replication slots',
  );
  const [db] = await query<{ db: string }>(
    client,
    'SELECT current_database() AS db',
    undefined,
    'reading the database name',
  );
  const health = await getSlot(client, slot);
  if (health) {
    if (health.database !== db?.db) {
      problems.push({
        code: 'slot_other_database',
        message: `replication slot "${slot}" already exists for database ${JSON.stringify(health.database)}, not ${JSON.stringify(db?.db)} (slot names are server-wide); use another sid or drop that slot`,
        context: { slot, slotDatabase: health.database, database: db?.db },
      });
    } else if (health.lost) {
      problems.push({
        code: 'slot_lost',
        message: slotLostMessage(
          url,
          slot,
          health.invalidationReason ?? `wal_status '${health.walStatus}'`,
        ),
        context: {
          slot,
          walStatus: health.walStatus,
          invalidationReason: health.invalidationReason,
        },
      });
    } else if (health.plugin !== 'pgoutput') {
      problems.push({
        code: 'slot_wrong_plugin',
        message: `replication slot "${slot}" uses output plugin ${JSON.stringify(health.plugin)}, not pgoutput; drop it (SELECT pg_drop_replication_slot(${replicationLiteral(slot)})) or use another sid`,
        context: { slot, plugin: health.plugin },
      });
    } else if (health.active) {
      warnings.push({
        code: 'slot_active',
        message: `replication slot "${slot}" is in use by server process ${health.activePid}; the streamer waits until it is free (another streamer running? SELECT pg_terminate_backend(${health.activePid}) frees it)`,
        context: { slot, activePid: health.activePid },
      });
    }
    return;
  }
  const max = settings.max_replication_slots;
  const free = max - rows.length;
  const inactive = rows.filter((r) => !r.active).map((r) => r.slot_name);
  const unused =
    inactive.length > 0 ? `, or drop unused slots (inactive: ${inactive.join(', ')})` : '';
  if (free < 1) {
    problems.push({
      code: 'no_free_replication_slot',
      message: `all ${max} replication slots are taken (max_replication_slots = ${max}) and slot "${slot}" does not exist yet; raise max_replication_slots in postgresql.conf and restart${unused}`,
      context: { setting: 'max_replication_slots', value: max, used: rows.length, inactive },
    });
  } else if (free < 2) {
    warnings.push({
      code: 'replication_slots_low',
      message: `only ${free} replication slot is free (max_replication_slots = ${max}); the streamer needs one, plus one temporary slot whenever a table is added later; consider raising max_replication_slots`,
      context: { setting: 'max_replication_slots', value: max, used: rows.length },
    });
  }
}

async function checkWalSenders(
  client: pg.ClientBase,
  settings: Settings,
  problems: PreflightProblem[],
  warnings: PreflightProblem[],
): Promise<boolean> {
  // pg_stat_replication lists every walsender, streaming or idle, to any role.
  const [row] = await query<{ n: number }>(
    client,
    'SELECT count(*)::int AS n FROM pg_stat_replication',
    undefined,
    'counting the WAL senders',
  );
  const used = row?.n ?? 0;
  const max = settings.max_wal_senders;
  const free = max - used;
  if (free < 1) {
    problems.push({
      code: 'no_free_wal_sender',
      message: `all ${max} WAL senders are busy (max_wal_senders = ${max}, ${used} connected); raise max_wal_senders in postgresql.conf and restart, or stop another replication client`,
      context: { setting: 'max_wal_senders', value: max, used },
    });
    return false;
  }
  if (free < 2) {
    warnings.push({
      code: 'wal_senders_low',
      message: `only ${free} WAL sender is free (max_wal_senders = ${max}); the streamer needs one, plus one while it copies a table added later; consider raising max_wal_senders`,
      context: { setting: 'max_wal_senders', value: max, used },
    });
  }
  return true;
}

async function checkReplicationConnection(
  options: PreflightOptions,
  problems: PreflightProblem[],
): Promise<void> {
  let conn: ReplicationConnection | undefined;
  try {
    conn = await ReplicationConnection.open(options.connectionString, options);
    await conn.sql('IDENTIFY_SYSTEM', 'IDENTIFY_SYSTEM');
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    problems.push({
      code: 'replication_connection',
      message: `a replication connection was refused: ${message}; pg_hba.conf must allow this role to connect to the database with replication (a logical replication connection matches the database name, not the "replication" keyword)`,
      context: { sqlstate: (e as { sqlstate?: string }).sqlstate },
    });
  } finally {
    await conn?.close();
  }
}
