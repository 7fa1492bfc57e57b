/**
 * Diagnostic: what N idle replication streams cost one process while another
 * database of the same server commits at a fixed rate. Every logical WAL
 * sender reads the whole server's WAL and, each time it has caught up, sends
 * its client a keepalive: N streams receive about N x commits/s keepalives
 * although none of the commits is theirs. Prints this process's CPU and the
 * WAL senders' next to the same with N native subscriptions (whose apply
 * workers each get their share of those keepalives).
 *
 * `node dist/keepalive-cost.mjs` after bundling like main.ts. Env:
 * KUVASZ_BENCH_STREAMS (comma-separated N, default 0,10,50,100; 0 is the load's client alone),
 * KUVASZ_BENCH_RATE (commits/s, default 500), KUVASZ_BENCH_SECONDS (10).
 */
import { createSlotWithSnapshot, ReplicationStream, syncPublication } from '@kuvasz/replication';
import { startPostgres } from '@kuvasz/testkit';
import pg from 'pg';
import { CpuMeter, isWalSender, serverCpuSeconds } from './cpu.js';
import { BENCH_SETTINGS, fmt, say, sleep } from './util.js';

const COUNTS = (process.env.KUVASZ_BENCH_STREAMS ?? '0,10,50,100').split(',').map(Number);
const RATE = Number(process.env.KUVASZ_BENCH_RATE ?? 500);
const SECONDS = Number(process.env.KUVASZ_BENCH_SECONDS ?? 10);
const most = Math.max(...COUNTS);

const s = await startPostgres({
  version: 17,
  settings: {
    ...BENCH_SETTINGS,
    max_connections: most + 50,
    max_wal_senders: most + 10,
    max_replication_slots: most + 10,
  },
});
try {
  const busy = await s.createDatabase('busy');
  await s.sql('CREATE TABLE t (id bigserial PRIMARY KEY, v int)', [], busy);
  const dbs: string[] = [];
  for (let i = 1; i <= most; i++) {
    const db = await s.createDatabase(`idle${i}`);
    await s.sql('CREATE TABLE t (id int PRIMARY KEY)', [], db);
    await syncPublication(s.urlFor(db), 'p', [{ schema: 'public', table: 't' }]);
    const slot = await createSlotWithSnapshot({ connectionString: s.urlFor(db), slot: `k${i}` });
    await slot.release();
    dbs.push(db);
  }
  const load = new pg.Client({ connectionString: s.urlFor(busy) });
  await load.connect();
  for (const n of COUNTS) {
    const streams = dbs.slice(0, n).map(
      (db, i) =>
        new ReplicationStream({
          connectionString: s.urlFor(db),
          slot: `k${i + 1}`,
          publication: 'p',
        }),
    );
    await Promise.all(streams.map((x) => x.start()));
    await sleep(1000);
    const me = new CpuMeter(() => {
      const c = process.cpuUsage();
      return (c.user + c.system) / 1e6;
    });
    const senders = new CpuMeter(() => serverCpuSeconds(s.dataDir, isWalSender));
    const k0 = streams.reduce((a, x) => a + x.stats.keepalives, 0);
    me.start();
    senders.start();
    const t0 = performance.now();
    let done = 0;
    while (performance.now() - t0 < SECONDS * 1000) {
      const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
      while (done < due) {
        await load.query('INSERT INTO t (v) VALUES (1)');
        done++;
      }
      await sleep(1);
    }
    const cpu = me.stop();
    const wal = senders.stop();
    const keepalives = streams.reduce((a, x) => a + x.stats.keepalives, 0) - k0;
    say(
      `${n} idle streams, ${fmt(done / SECONDS)} commits/s elsewhere: ${fmt(keepalives / SECONDS)} keepalives/s received; this process ${fmt(cpu, 3)} cores (includes the load's client), WAL senders ${fmt(wal, 2)} cores`,
    );
    await Promise.all(streams.map((x) => x.close()));
  }
  await load.end();
} finally {
  await s.stop();
}
