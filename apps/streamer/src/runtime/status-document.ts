import type { CopySync, TableState } from '@kuvasz/copy-sync';
import { displayName, formatLsn, redactPasswords, sameTable } from '@kuvasz/core';
import { kuvaszObjectName } from '@kuvasz/replication';
import { z } from 'zod';
import type { Config } from '../config/load.js';
import type { Redactor } from '../config/secrets.js';
import type { FleetView } from '../fleet/fleet.js';
import { type LeaseRow, type LeaseStore, sourceKey } from '../fleet/lease-store.js';
import type { SourceSnapshot } from './source-runner.js';
import type { SourceHealth, StatusStore, StoredSourceStatus, TableStat } from './status-store.js';

const lsn = z
  .string()
  .regex(/^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/)
  .describe('A WAL position as PostgreSQL prints it: X/Y, two hexadecimal halves');
const timestamp = z.string().describe('ISO 8601, UTC');
const bytes = z.number().int().min(0);

/**
 * The one status document: what `status --json` prints and what `run` serves
 * at /api/status, described by its JSON Schema (`status-schema`,
 * /api/status/schema). A change here is a change of a public interface.
 */
export const statusDocumentSchema = z
  .strictObject({
    generatedAt: timestamp,
    sources: z.array(
      z.strictObject({
        database: z.string(),
        sid: z.string(),
        url: z.string().describe('The source URL, password replaced by ***'),
        slot: z.string().describe('Replication slot and publication name'),
        state: z
          .enum([
            'starting',
            'preflight',
            'syncing',
            'streaming',
            'retrying',
            'stopped',
            'never started',
          ])
          .describe("'never started': no streamer has recorded this source yet"),
        updatedAt: timestamp.nullable().describe('When the figures of this source were taken'),
        lastError: z
          .strictObject({
            message: z.string(),
            kind: z
              .string()
              .nullable()
              .describe('The step that failed: connect, preflight, slot, sync, stream, apply'),
            at: timestamp.nullable(),
          })
          .nullable(),
        retries: z.number().int().min(0).nullable(),
        receivedLsn: lsn.nullable().describe('Last position received from the source'),
        flushedLsn: lsn
          .nullable()
          .describe('Last position durable in the destination and acknowledged'),
        lagSeconds: z.number().min(0).nullable(),
        health: z
          .strictObject({
            walStatus: z.string().nullable(),
            lagBytes: bytes
              .nullable()
              .describe("Source's current WAL position - the slot's confirmed position"),
            retainedWalBytes: bytes.nullable(),
            confirmedFlushLsn: lsn.nullable(),
            error: z
              .string()
              .nullable()
              .describe('Why the source server could not be asked, if it could not'),
          })
          .describe('The slot as the source server sees it'),
        lease: z
          .strictObject({
            owner: z.string().nullable().describe('Instance id holding the lease, null when free'),
            epoch: z.number().int().min(0).describe('Bumped at every take-over'),
            expiresAt: timestamp.nullable(),
            expired: z.boolean().describe("By the destination's clock: its owner stopped renewing"),
          })
          .nullable()
          .describe(
            'In a fleet, who streams this source (the same on every instance); null otherwise',
          ),
        tables: z.array(
          z.strictObject({
            source: z.string(),
            target: z.string(),
            syncStatus: z.enum(['not synced', 'copying', 'done']),
            rowsSynced: z.number().int().min(0),
            applied: z
              .record(z.string(), z.number().int().min(0))
              .describe(
                "Changes applied, by operation ('insert', 'update', 'delete', 'truncate', '<operation> <result>')",
              ),
          }),
        ),
      }),
    ),
    fleet: z
      .strictObject({
        instanceId: z.string().describe('The instance that answered'),
        liveInstances: z.number().int().min(1),
        owned: z.number().int().min(0).describe('Sources whose lease the answering instance holds'),
      })
      .nullable()
      .describe('Fleet mode (several instances sharing the sources); null when off'),
  })
  .describe('kuvasz-streamer status');

export type StatusDocument = z.infer<typeof statusDocumentSchema>;
type SourceStatus = StatusDocument['sources'][number];

/** The JSON Schema of the status document. */
export function statusJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(statusDocumentSchema, { target: 'draft-2020-12' });
}

/** What the status is made of; `live` only when asked inside `run`. */
export interface StatusParts {
  cfg: Config;
  redactor: Redactor;
  /** What a streamer recorded in the destination, per source. */
  stored: StoredSourceStatus[];
  /** This process's sources, fresher than `stored`. */
  live?: SourceSnapshot[];
  health: Map<string, SourceHealth>;
  sync: Map<string, TableState[]>;
  stats: TableStat[];
  now?: Date;
  /** In a fleet: every source's lease, and the answering instance. */
  leases?: LeaseRow[];
  fleet?: FleetView;
}

/** Builds the document from its parts: the same code for `status --json` and /api/status. */
export function buildStatusDocument(p: StatusParts): StatusDocument {
  const now = p.now ?? new Date();
  const nullableLsn = (v: bigint | string | null | undefined) =>
    v === null || v === undefined ? null : typeof v === 'bigint' ? formatLsn(v) : v;
  const sources = p.cfg.sources.map((s): SourceStatus => {
    const slot = kuvaszObjectName(s.database, s.sid);
    const live = p.live?.find((x) => sourceKey(x) === sourceKey(s));
    const st = p.stored.find((x) => sourceKey(x) === sourceKey(s));
    const h = p.health.get(slot);
    const lease = p.leases?.find((x) => sourceKey(x) === sourceKey(s));
    const lastError = live
      ? live.lastError && { ...live.lastError }
      : st?.last_error
        ? {
            message: st.last_error,
            kind: st.last_error_kind,
            at: st.last_error_at?.toISOString() ?? null,
          }
        : null;
    const sync = p.sync.get(sourceKey(s)) ?? [];
    return {
      database: s.database,
      sid: s.sid,
      url: redactPasswords(s.url),
      slot,
      state: live?.state ?? (st?.state as SourceStatus['state'] | undefined) ?? 'never started',
      updatedAt: live ? now.toISOString() : (st?.updated_at.toISOString() ?? null),
      lastError: lastError ? { ...lastError, message: p.redactor.redact(lastError.message) } : null,
      retries: live?.retries ?? st?.retries ?? null,
      receivedLsn: nullableLsn(live ? live.receivedLsn : st?.received_lsn),
      flushedLsn: nullableLsn(live ? live.flushedLsn : st?.flushed_lsn),
      lagSeconds: live?.lagSeconds ?? st?.lag_seconds ?? null,
      health: {
        walStatus: h?.walStatus ?? st?.wal_status ?? null,
        lagBytes: toNumber(h?.lagBytes ?? st?.lag_bytes),
        retainedWalBytes: toNumber(h?.retainedWalBytes ?? st?.retained_wal_bytes),
        confirmedFlushLsn: h?.confirmedFlushLsn ?? null,
        error: h?.error ? p.redactor.redact(h.error) : h ? null : 'not read yet',
      },
      lease: lease
        ? {
            owner: lease.owner,
            epoch: lease.epoch,
            expiresAt: lease.expiresAt?.toISOString() ?? null,
            expired: lease.expired,
          }
        : null,
      tables: s.tables.map((t) => {
        const target = displayName(t.target);
        const state = sync.find((x) => sameTable(x.table, t.source));
        const applied: Record<string, number> = {};
        for (const e of p.stats) {
          if (e.database !== s.database || e.sid !== s.sid || e.table !== target) continue;
          const k = e.result === 'ok' ? e.operation : `${e.operation} ${e.result}`;
          applied[k] = (applied[k] ?? 0) + e.count;
        }
        return {
          source: displayName(t.source),
          target,
          syncStatus: state?.status ?? 'not synced',
          rowsSynced: state?.rows ?? 0,
          applied,
        };
      }),
    };
  });
  const fleet = p.fleet
    ? {
        instanceId: p.fleet.instanceId,
        liveInstances: p.fleet.liveInstances,
        owned: p.fleet.owned,
      }
    : null;
  return { generatedAt: now.toISOString(), sources, fleet };
}

function toNumber(v: bigint | string | null | undefined): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** Adds counters: what earlier saves stored plus what this process has not saved yet. */
export function addStats(a: TableStat[], b: TableStat[]): TableStat[] {
  const out = new Map<string, TableStat>();
  for (const e of [...a, ...b]) {
    const k = `${e.database}\u0000${e.sid}\u0000${e.table}\u0000${e.operation}\u0000${e.result}`;
    const prev = out.get(k);
    out.set(k, prev ? { ...prev, count: prev.count + e.count } : { ...e });
  }
  return [...out.values()];
}

/** Where the document's parts are read from; `live` and `unsavedStats` inside `run`. */
export interface StatusSources {
  cfg: Config;
  redactor: Redactor;
  store: StatusStore;
  copy: CopySync;
  health: Map<string, SourceHealth>;
  live?: SourceSnapshot[];
  /** Counters this process applied and has not stored yet. */
  unsavedStats?: TableStat[];
  /** In a fleet: where the leases are read, and the answering instance. */
  leases?: LeaseStore;
  fleet?: FleetView;
}

/** Reads what the destination holds and builds the document. */
export async function collectStatus(o: StatusSources): Promise<StatusDocument> {
  const [stored, saved, sync, leases] = await Promise.all([
    o.store.load(),
    o.store.loadTableStats(),
    Promise.all(
      o.cfg.sources.map(
        async (s) =>
          [
            sourceKey(s),
            await o.copy.state({ database: s.database, sid: s.sid }).catch(() => []),
          ] as const,
      ),
    ),
    o.leases?.list(),
  ]);
  return buildStatusDocument({
    cfg: o.cfg,
    redactor: o.redactor,
    stored,
    ...(o.live ? { live: o.live } : {}),
    health: o.health,
    sync: new Map(sync),
    stats: addStats(saved, o.unsavedStats ?? []),
    ...(leases ? { leases } : {}),
    ...(o.fleet ? { fleet: o.fleet } : {}),
  });
}
