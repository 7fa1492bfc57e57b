import { CopySync } from '@kuvasz/copy-sync';
import { redactPasswords } from '@kuvasz/core';
import { kuvaszObjectName } from '@kuvasz/replication';
import type { CliArgs } from '../cli/args.js';
import { EXIT, StreamerError } from '../errors.js';
import { LeaseStore } from '../fleet/lease-store.js';
import { HealthMonitor } from '../runtime/source-health.js';
import { collectStatus, type StatusDocument } from '../runtime/status-document.js';
import { StatusStore } from '../runtime/status-store.js';
import { destinationPool } from '../runtime/streamer.js';
import { formatBytes } from '../ui/progress.js';
import { loadContext } from './context.js';

/** `status`: what the running streamer recorded, plus each slot as its source sees it now. */
export async function statusCommand(
  args: CliArgs,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const { cfg, redactor, log } = await loadContext(args, 'status');
  const pool = destinationPool(cfg);
  try {
    // One query per source server for every slot on it.
    const monitor = new HealthMonitor(
      cfg.sources.map((s) => ({
        label: `${s.database} (sid ${s.sid})`,
        url: s.url,
        slot: kuvaszObjectName(s.database, s.sid),
      })),
      log,
    );
    const health = await monitor.poll().finally(() => monitor.close());
    const doc = await collectStatus({
      cfg,
      redactor,
      store: new StatusStore(pool, cfg.destination.metadataSchema),
      copy: new CopySync({ destination: pool, metadataSchema: cfg.destination.metadataSchema }),
      health,
      // In a fleet, who holds each source (read by whichever instance or tool asks).
      ...(cfg.fleet ? { leases: new LeaseStore(pool, cfg.destination.metadataSchema) } : {}),
    }).catch((err: unknown) => {
      throw new StreamerError(
        'runtime',
        `cannot read the status from the destination ${redactPasswords(cfg.destination.url)}: ${redactor.redact((err as Error).message)}`,
        { cause: err },
      );
    });
    out.write(args.json ? `${JSON.stringify(doc, null, 2)}\n` : statusText(doc));
    return EXIT.ok;
  } finally {
    await pool.end();
  }
}

/** The document for a person. */
export function statusText(doc: StatusDocument): string {
  const lines: string[] = [];
  const size = (n: number | null) => (n === null ? 'n/a' : formatBytes(n));
  for (const s of doc.sources) {
    const h = s.health;
    lines.push(
      `${s.database} (sid ${s.sid}) ${s.url}`,
      `  state: ${s.state}${s.updatedAt ? ` (as of ${s.updatedAt})` : ''}${s.retries ? `, ${s.retries} retries` : ''}`,
      `  received ${s.receivedLsn ?? 'n/a'}, flushed ${s.flushedLsn ?? 'n/a'}`,
      h.error
        ? `  slot ${s.slot} unreadable: ${h.error}`
        : `  slot ${s.slot} (${h.walStatus ?? 'n/a'}), confirmed ${h.confirmedFlushLsn ?? 'n/a'}, lag ${size(h.lagBytes)}${s.lagSeconds === null ? '' : ` / ${s.lagSeconds.toFixed(1)} s`}, retained WAL ${size(h.retainedWalBytes)}`,
    );
    if (s.lease)
      lines.push(
        `  lease: ${s.lease.owner ?? 'free'} (epoch ${s.lease.epoch}${s.lease.expired ? ', expired' : ''})`,
      );
    if (s.lastError)
      lines.push(`  last error (${s.lastError.kind}, ${s.lastError.at}): ${s.lastError.message}`);
    for (const t of s.tables) {
      const applied =
        Object.entries(t.applied)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ') || 'nothing yet';
      lines.push(
        `  ${t.source} -> ${t.target}: ${t.syncStatus}, ${t.rowsSynced} rows synced; applied: ${applied}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
