import { CopySync } from '@kuvasz/copy-sync';
import { displayName, redactPasswords, sameTable } from '@kuvasz/core';
import { kuvaszObjectName } from '@kuvasz/replication';
import type { CliArgs } from '../cli/args.js';
import { EXIT, StreamerError } from '../errors.js';
import { bigintReplacer } from '../observability/http-server.js';
import { HealthMonitor } from '../runtime/source-health.js';
import { StatusStore } from '../runtime/status-store.js';
import { destinationPool } from '../runtime/streamer.js';
import { formatBytes } from '../ui/progress.js';
import { loadContext } from './context.js';

export interface StatusReport {
  sources: {
    database: string;
    sid: string;
    url: string;
    slot: string;
    state: string;
    slotStatus:
      | {
          walStatus: string | null;
          lagBytes: string | null;
          retainedWalBytes: string | null;
          confirmedFlushLsn: string | null;
        }
      | { error: string };
    lagSeconds: number | null;
    lastError: { message: string; kind: string | null; at: string | null } | null;
    updatedAt: string | null;
    tables: {
      source: string;
      target: string;
      syncStatus: string;
      rowsSynced: number;
      applied: Record<string, number>;
    }[];
  }[];
}

/** `status`: what the running streamer recorded, plus each slot as its source sees it now. */
export async function statusCommand(
  args: CliArgs,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const { cfg, redactor, log } = await loadContext(args, 'status');
  const pool = destinationPool(cfg);
  try {
    const store = new StatusStore(pool, cfg.destination.metadataSchema);
    const [stored, stats] = await Promise.all([store.load(), store.loadTableStats()]).catch(
      (err: unknown) => {
        throw new StreamerError(
          'runtime',
          `cannot read the status from the destination ${redactPasswords(cfg.destination.url)}: ${redactor.redact((err as Error).message)}`,
          { cause: err },
        );
      },
    );
    const copy = new CopySync({
      destination: pool,
      metadataSchema: cfg.destination.metadataSchema,
    });
    const report: StatusReport = { sources: [] };
    // One query per source server for every slot on it.
    const monitor = new HealthMonitor(
      cfg.sources.map((s) => ({
        label: `${s.database} (sid ${s.sid})`,
        url: s.url,
        slot: kuvaszObjectName(s.database, s.sid),
      })),
      log,
    );
    const healths = await monitor.poll().finally(() => monitor.close());
    for (const s of cfg.sources) {
      const slot = kuvaszObjectName(s.database, s.sid);
      const st = stored.find((x) => x.database === s.database && x.sid === s.sid);
      let slotStatus: StatusReport['sources'][number]['slotStatus'];
      const h = healths.get(slot);
      if (!h || h.error !== null) {
        slotStatus = { error: redactor.redact(h?.error ?? 'not read') };
      } else {
        slotStatus = {
          walStatus: h.walStatus,
          lagBytes: h.lagBytes?.toString() ?? null,
          retainedWalBytes: h.retainedWalBytes?.toString() ?? null,
          confirmedFlushLsn: h.confirmedFlushLsn,
        };
      }
      const sync = await copy.state({ database: s.database, sid: s.sid }).catch(() => []);
      report.sources.push({
        database: s.database,
        sid: s.sid,
        url: redactPasswords(s.url),
        slot,
        state: st?.state ?? 'never started',
        slotStatus,
        lagSeconds: st?.lag_seconds ?? null,
        lastError: st?.last_error
          ? {
              message: redactor.redact(st.last_error),
              kind: st.last_error_kind,
              at: st.last_error_at?.toISOString() ?? null,
            }
          : null,
        updatedAt: st?.updated_at.toISOString() ?? null,
        tables: s.tables.map((t) => {
          const target = displayName(t.target);
          const state = sync.find((x) => sameTable(x.table, t.source));
          const applied: Record<string, number> = {};
          for (const e of stats) {
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
      });
    }
    if (args.json) {
      out.write(`${JSON.stringify(report, bigintReplacer, 2)}\n`);
      return EXIT.ok;
    }
    for (const s of report.sources) {
      const h = s.slotStatus;
      const slotText =
        'error' in h
          ? `slot unreadable: ${h.error}`
          : `slot ${s.slot} (${h.walStatus ?? 'n/a'}), lag ${h.lagBytes === null ? 'n/a' : formatBytes(Number(h.lagBytes))}${s.lagSeconds === null ? '' : ` / ${s.lagSeconds.toFixed(1)} s`}, retained WAL ${h.retainedWalBytes === null ? 'n/a' : formatBytes(Number(h.retainedWalBytes))}`;
      out.write(
        `${s.database} (sid ${s.sid}) ${s.url}\n  state: ${s.state}${s.updatedAt ? ` (as of ${s.updatedAt})` : ''}\n  ${slotText}\n`,
      );
      if (s.lastError)
        out.write(
          `  last error (${s.lastError.kind}, ${s.lastError.at}): ${s.lastError.message}\n`,
        );
      for (const t of s.tables) {
        const applied =
          Object.entries(t.applied)
            .map(([k, v]) => `${v} ${k}`)
            .join(', ') || 'nothing yet';
        out.write(
          `  ${t.source} -> ${t.target}: ${t.syncStatus}, ${t.rowsSynced} rows synced; applied: ${applied}\n`,
        );
      }
    }
    return EXIT.ok;
  } finally {
    await pool.end();
  }
}
