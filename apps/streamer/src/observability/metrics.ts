import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/**
 * Prometheus metrics. Names of the original kuvasz-streamer are kept where it
 * had them (`streamer_operations_total`, `streamer_sync_rows_total`,
 * `streamer_sync_bytes_total`) so existing dashboards keep working.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kuvasz_' });
  const source = ['database', 'sid'] as const;
  const table = ['database', 'sid', 'table'] as const;
  return {
    registry,
    operations: new Counter({
      name: 'streamer_operations_total',
      help: 'Row changes applied, by source, target table, operation and result (ok, conflict, missing, skipped, error)',
      labelNames: [...table, 'operation', 'result'] as const,
      registers: [registry],
    }),
    transactions: new Counter({
      name: 'streamer_transactions_total',
      help: 'Source transactions made durable in the destination',
      labelNames: source,
      registers: [registry],
    }),
    syncRows: new Counter({
      name: 'streamer_sync_rows_total',
      help: 'Rows copied by initial syncs',
      labelNames: table,
      registers: [registry],
    }),
    syncBytes: new Counter({
      name: 'streamer_sync_bytes_total',
      help: 'Bytes copied by initial syncs',
      labelNames: table,
      registers: [registry],
    }),
    lagBytes: new Gauge({
      name: 'streamer_replication_lag_bytes',
      help: "Bytes of the source's WAL not yet acknowledged (current WAL position - confirmed flush LSN)",
      labelNames: source,
      registers: [registry],
    }),
    lagSeconds: new Gauge({
      name: 'streamer_replication_lag_seconds',
      help: 'Seconds between the commit of the last applied source transaction and its apply (0 when idle)',
      labelNames: source,
      registers: [registry],
    }),
    retainedWal: new Gauge({
      name: 'streamer_slot_retained_wal_bytes',
      help: "WAL the source keeps for the streamer's slot (current WAL position - restart_lsn)",
      labelNames: [...source, 'slot'] as const,
      registers: [registry],
    }),
    sourceUp: new Gauge({
      name: 'streamer_source_up',
      help: '1 while a source streams, 0 while it is down or retrying',
      labelNames: source,
      registers: [registry],
    }),
    fleetSourcesOwned: new Gauge({
      name: 'kuvasz_fleet_sources_owned',
      help: 'Sources whose lease this instance holds (fleet mode)',
      labelNames: ['instance'] as const,
      registers: [registry],
    }),
    fleetRenewals: new Counter({
      name: 'kuvasz_fleet_lease_renewals_total',
      help: 'Lease renewal rounds by result (ok, error)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    fleetLeasesLost: new Counter({
      name: 'kuvasz_fleet_lease_lost_total',
      help: 'Leases this instance lost (another instance took the source over, or renewal failed past the lease)',
      registers: [registry],
    }),
    fleetTakeovers: new Counter({
      name: 'kuvasz_fleet_takeovers_total',
      help: 'Leases this instance took (free, released by another instance, or expired)',
      registers: [registry],
    }),
    errors: new Counter({
      name: 'streamer_errors_total',
      help: 'Errors by source and kind (connect, preflight, slot, sync, stream, apply)',
      labelNames: [...source, 'kind'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
