/**
 * `pnpm --filter @kuvasz/replication bench`: reads the same WAL backlog three
 * ways on one PostgreSQL 17 cluster, each from its own slot created at the
 * same point:
 *   - ours: ReplicationStream, decoding every message into transaction parts
 *     and acknowledging each transaction;
 *   - pg_recvlogical (Debian's client tools): the server's pgoutput bytes to
 *     /dev/null, no decoding at all: the server-side ceiling;
 *   - raw frames: the same connection code as ours (pg's parser, CopyBothQuery)
 *     counting frames without decoding: what decoding and assembly cost us;
 *   - raw frames read in batches (see batched-reads.ts): what receiving alone
 *     costs at best.
 * Each line gives the CPU time of this process per row beside the rate.
 * Two backlogs: KUVASZ_BENCH_ROWS rows (default 1,000,000) of an 8-column
 * table in 10-row transactions, then the same rows in one transaction
 * (streamed in progress by the server, spilled by us).
 * The machine is shared: read the ratios, not the absolute figures.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  encodeStandbyStatusUpdate,
  formatLsn,
  parseLsn,
  parseReplicationFrame,
} from '@kuvasz/pgoutput';
import { type PgCluster, startPostgres } from '@kuvasz/testkit';
import { ReplicationConnection } from '../src/replication-connection.js';
import { ReplicationStream } from '../src/stream/replication-stream.js';
import { batchReads } from './batched-reads.js';

const ROWS = Number(process.env.KUVASZ_BENCH_ROWS ?? 1_000_000);
const TX_ROWS = 10;

interface Result {
  seconds: number;
  rows: number;
  /** CPU seconds of this process. */
  cpu?: number;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function rate(r: Result | undefined): string {
  if (!r) return 'n/a';
  const cpu = r.cpu === undefined ? '' : `, ${((r.cpu * 1e6) / r.rows).toFixed(2)} us CPU/row`;
  return `${Math.round(r.rows / r.seconds).toLocaleString('en-US')} rows/s (${r.seconds.toFixed(2)} s${cpu})`;
}

function ratio(a: Result, b: Result | undefined): string {
  return b ? `${(b.seconds / a.seconds).toFixed(2)}x` : 'n/a';
}

function hasRecvlogical(): boolean {
  try {
    execFileSync('pg_recvlogical', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function lsnNow(cluster: PgCluster, db: string): Promise<bigint> {
  const [row] = await cluster.sql<{ lsn: string }>(
    'SELECT pg_current_wal_lsn()::text AS lsn',
    [],
    db,
  );
  return parseLsn(row?.lsn ?? '0/0');
}

async function ours(
  url: string,
  slot: string,
  rows: number,
): Promise<Result & { peakRss: number }> {
  const stream = new ReplicationStream({ connectionString: url, slot, publication: 'bench' });
  const t0 = performance.now();
  const c0 = cpuSeconds();
  let peakRss = process.memoryUsage().rss;
  let seen = 0;
  let checked = 0;
  for await (const part of stream) {
    seen += part.changes.length;
    if (part.final) stream.ack(part.endLsn);
    if (++checked % 50 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
    if (seen >= rows && part.final) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - c0;
  await stream.close();
  return { seconds, rows: seen, peakRss, cpu };
}

async function recvlogical(
  cluster: PgCluster,
  db: string,
  slot: string,
  end: bigint,
): Promise<Result> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      'pg_recvlogical',
      [
        '-d',
        cluster.urlFor(db, { user: cluster.user }),
        '-S',
        slot,
        '--start',
        '-o',
        'proto_version=2',
        '-o',
        'publication_names=bench',
        '-o',
        'streaming=on',
        '-E',
        formatLsn(end),
        '--no-loop',
        '-f',
        '/dev/null',
      ],
      {
        env: { ...process.env, PGPASSWORD: cluster.password },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    child.stderr.on('data', (d) => {
      err += String(d);
    });
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`pg_recvlogical: ${err}`)),
    );
  });
  return { seconds: (performance.now() - t0) / 1000, rows: ROWS };
}

async function rawFrames(
  url: string,
  slot: string,
  end: bigint,
  batchedReads = false,
): Promise<Result> {
  const conn = await ReplicationConnection.open(url);
  const t0 = performance.now();
  const c0 = cpuSeconds();
  const duplex = conn.startReplication(
    `START_REPLICATION SLOT "${slot}" LOGICAL 0/0 (proto_version '4', publication_names '"bench"', streaming 'on')`,
  );
  if (batchedReads) batchReads(conn);
  await new Promise<void>((resolve, reject) => {
    let last = 0n;
    const status = setInterval(() => {
      duplex.write(encodeStandbyStatusUpdate({ writeLsn: last, flushLsn: last, applyLsn: last }));
    }, 1000);
    duplex.on('data', (frame: Buffer) => {
      const f = parseReplicationFrame(frame);
      const at = f.tag === 'xlogdata' ? f.walStart : f.walEnd;
      if (at > last) last = at;
      if (last >= end) {
        clearInterval(status);
        resolve();
      }
    });
    duplex.on('error', reject);
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - c0;
  await conn.close();
  return { seconds, rows: ROWS, cpu };
}

async function phase(
  cluster: PgCluster,
  db: string,
  title: string,
  generate: () => Promise<void>,
  withRecvlogical: boolean,
): Promise<void> {
  const url = cluster.urlFor(db);
  const tag = title.replace(/\W+/g, '_').toLowerCase();
  for (const s of ['ours', 'recv', 'raw', 'rest']) {
    await cluster.sql(
      `SELECT pg_create_logical_replication_slot($1, 'pgoutput')`,
      [`${tag}_${s}`],
      db,
    );
  }
  const g0 = performance.now();
  await generate();
  const end = await lsnNow(cluster, db);
  console.log(
    `\n${title}: ${ROWS.toLocaleString('en-US')} rows generated in ${((performance.now() - g0) / 1000).toFixed(1)} s`,
  );
  const a = await ours(url, `${tag}_ours`, ROWS);
  const b = withRecvlogical ? await recvlogical(cluster, db, `${tag}_recv`, end) : undefined;
  const c = await rawFrames(url, `${tag}_raw`, end);
  const d = await rawFrames(url, `${tag}_rest`, end, true);
  console.log(
    `  ours (decode + parts + ack)   ${rate(a)}, peak RSS ${(a.peakRss / 1048576).toFixed(0)} MiB`,
  );
  console.log(`  pg_recvlogical (no decoding)  ${rate(b)}   ours/baseline ${ratio(a, b)}`);
  console.log(`  raw frames, same connection   ${rate(c)}   ours/raw ${ratio(a, c)}`);
  console.log(`  raw frames, reads in batches  ${rate(d)}   ours/raw ${ratio(a, d)}`);
  await cluster.dropSlots(db);
}

async function main(): Promise<void> {
  const withRecvlogical = hasRecvlogical();
  if (!withRecvlogical)
    console.log(
      'pg_recvlogical not found (apt-get install postgresql-client): that baseline is skipped',
    );
  console.log(
    `replication stream bench: ${ROWS.toLocaleString('en-US')} rows, PostgreSQL 17, shared 2-core machine (figures are noisy)`,
  );
  const cluster = await startPostgres({ version: 17 });
  try {
    const db = await cluster.createDatabase();
    await cluster.sql(
      `CREATE TABLE t (id bigint PRIMARY KEY, a int, b int, c text, d text, e timestamptz, f numeric, g bool);
       CREATE PUBLICATION bench FOR TABLE t;`,
      [],
      db,
    );
    const row = `g, g % 1000, g % 7, md5(g::text), 'customer ' || g, now(), g * 1.5, g % 2 = 0`;
    await phase(
      cluster,
      db,
      `Backlog of ${TX_ROWS}-row transactions`,
      () =>
        cluster
          .sql(
            `DO $$ BEGIN
               FOR i IN 0..${Math.ceil(ROWS / TX_ROWS) - 1} LOOP
                 INSERT INTO t SELECT ${row} FROM generate_series(i * ${TX_ROWS} + 1, (i + 1) * ${TX_ROWS}) g;
                 COMMIT;
               END LOOP;
             END $$`,
            [],
            db,
          )
          .then(() => {}),
      withRecvlogical,
    );
    await cluster.sql('TRUNCATE t', [], db);
    await phase(
      cluster,
      db,
      'One large transaction',
      () =>
        cluster
          .sql(`INSERT INTO t SELECT ${row} FROM generate_series(1, ${ROWS}) g`, [], db)
          .then(() => {}),
      withRecvlogical,
    );
  } finally {
    await cluster.stop();
  }
}

await main();
