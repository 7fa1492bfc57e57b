#!/usr/bin/env node
// `pnpm demo` until the streamer's own demo lands: starts the tested majors,
// creates a pgoutput slot on each, prints what it saw, and cleans up.
import { startPostgres } from './start-postgres.js';
import { testedVersions } from './versions.js';

for (const version of testedVersions()) {
  const started = Date.now();
  const cluster = await startPostgres({ version });
  try {
    const [s] = await cluster.sql<{ v: string; w: string }>(
      "SELECT version() AS v, current_setting('wal_level') AS w",
    );
    await cluster.sql("SELECT pg_create_logical_replication_slot('smoke', 'pgoutput')");
    const slots = await cluster.slots();
    console.log(
      `${s?.v}\n  started in ${Date.now() - started} ms on port ${cluster.port}, wal_level=${s?.w}, slots: ${slots.map((x) => x.slot_name).join(', ')}`,
    );
    await cluster.dropSlots();
  } finally {
    await cluster.stop();
  }
}
