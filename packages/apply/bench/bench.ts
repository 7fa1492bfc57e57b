/**
 * `pnpm --filter @kuvasz/apply bench`: a backlog of changes on a PG 17 source
 * (inserts in 10-row transactions, then updates, then a delete-heavy mix),
 * consumed phase by phase by a native `CREATE SUBSCRIPTION` (into one
 * destination database) and by this engine as clone and as history (into two
 * others), all from slots created before the backlog. Our side reads its slot
 * through a walsender (START_REPLICATION) and decodes with @kuvasz/pgoutput,
 * so the comparison is end to end (reading and applying overlap, as in the
 * streamer); the engine-only figure divides by the time the busiest worker
 * spent applying (planning, statements, commits), waiting for input excluded.
 * A fourth slot is only read and decoded (into the engine's input, nothing
 * applied), with the socket read in large batches: the least CPU any
 * consumer built on pg and @kuvasz/pgoutput spends before applying a change,
 * printed beside the CPU budget that 1.0x native leaves on this machine.
 *
 * Env: KUVASZ_BENCH_CHANGES (default 1,000,000: 50% inserts, 30% updates,
 * 20% mix), KUVASZ_BENCH_WORKERS (default 4), KUVASZ_BENCH_BATCH, KUVASZ_BENCH_PENDING,
 * (the engine's batchRows, maxPendingRows; its defaults otherwise),
 * KUVASZ_BENCH_SYNC=off (synchronousCommit: 'off'),
 * KUVASZ_BENCH_READER (`stream`, default, or `sql`), KUVASZ_BENCH_WIRE=0 (inserts
 * as decoded values instead of wire tuples), KUVASZ_BENCH_VERBOSE=1 (time
 * spent decoding and waiting in push), KUVASZ_BENCH_SKIP_HISTORY=1 (profiling),
 * KUVASZ_BENCH_HEAP_GROWING (V8 heap growth percent, default 35 like the
 * kuvasz-streamer CLI sets for \`run\`; 0: V8's default).
 */
import os from 'node:os';
import v8 from 'node:v8';
import { arenaValues } from '@kuvasz/pgoutput';
import { type PgCluster, startPostgres, waitFor } from '@kuvasz/testkit';
import pg from 'pg';
import { ApplyEngine, type SourceId, type SourceTransaction } from '../src/index.js';
import { TxAssembler } from '../test/slot-source.js';
import { type CpuSnapshot, cpuDelta, cpuSnapshot, postmasterPid } from './cpu-usage.js';
import { streamSlot } from './walsender-reader.js';

const env = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : Number(v);
};
// The host app owns the heap policy; this bench applies the CLI's (see apps/streamer heap-policy.ts).
const HEAP_GROWING = env('KUVASZ_BENCH_HEAP_GROWING', 50);
if (HEAP_GROWING > 0) v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING}`);
const CHANGES = env('KUVASZ_BENCH_CHANGES', 1_000_000);
const WORKERS = env('KUVASZ_BENCH_WORKERS', 4);
const BATCH = process.env.KUVASZ_BENCH_BATCH ? Number(process.env.KUVASZ_BENCH_BATCH) : undefined;
const PENDING = process.env.KUVASZ_BENCH_PENDING
  ? Number(process.env.KUVASZ_BENCH_PENDING)
  : undefined;
const INSERTS = Math.floor((CHANGES * 0.5) / 10) * 10;
const UPDATES = Math.floor((CHANGES * 0.3) / 10) * 10;
const MIX = Math.floor((CHANGES * 0.2) / 10) * 10;
const SETTINGS = { max_wal_size: '8GB', checkpoint_timeout: '30min', shared_buffers: '256MB' };
const SOURCE: SourceId = { database: 'bench', sid: '1' };
const VERBOSE = process.env.KUVASZ_BENCH_VERBOSE === '1';
const timed = <T>(f: () => T, add: (ms: number) => void): T => {
  const t0 = performance.now();
  const r = f();
  add(performance.now() - t0);
  return r;
};
/** Phases to run (profiling), e.g. `insert`; all by default. */
const PHASES = process.env.KUVASZ_BENCH_PHASES?.split(',');
/** For profiling the clone path alone. */
const SKIP_HISTORY = process.env.KUVASZ_BENCH_SKIP_HISTORY === '1';
/** Inserts as wire tuples (bytes, as the streamer passes them), default; `KUVASZ_BENCH_WIRE=0`: decoded values. */
const WIRE = process.env.KUVASZ_BENCH_WIRE !== '0';
/** `stream` (default): START_REPLICATION through a walsender; `sql`: pg_logical_slot_get_binary_changes. */
const READER = process.env.KUVASZ_BENCH_READER === 'sql' ? 'sql' : 'stream';

const TABLE = 'CREATE TABLE bench_t (id int PRIMARY KEY, a int NOT NULL, b text, c timestamptz)';
const MARKER =
  'CREATE TABLE marker (id int PRIMARY KEY, phase int NOT NULL); INSERT INTO marker VALUES (1, 0)';
const HISTORY = `CREATE TABLE bench_t (id int NOT NULL, a int NOT NULL, b text, c timestamptz,
    kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL DEFAULT false);
  CREATE UNIQUE INDEX bench_t_open ON bench_t (id) WHERE kvsz_end = '9999-01-01 00:00:00+00';
  CREATE INDEX bench_t_versions ON bench_t (id, kvsz_end);`;

const GENERATORS = `
CREATE PROCEDURE gen_insert(n int) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 0 .. n / 10 - 1 LOOP
    INSERT INTO bench_t SELECT g, g % 1000, md5(g::text), now() FROM generate_series(i * 10 + 1, i * 10 + 10) g;
    COMMIT;
  END LOOP;
END $$;
CREATE PROCEDURE gen_update(n int, total int) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 0 .. n / 10 - 1 LOOP
    UPDATE bench_t SET a = a + 1, b = md5(b) WHERE id IN (SELECT (((i * 10 + k)::bigint * 7919) % total + 1)::int FROM generate_series(0, 9) k);
    COMMIT;
  END LOOP;
END $$;
CREATE PROCEDURE gen_mix(n int, total int) LANGUAGE plpgsql AS $$
DECLARE base int;
BEGIN
  FOR i IN 0 .. n / 10 - 1 LOOP
    base := (i * 6) % total;
    DELETE FROM bench_t WHERE id > base AND id <= base + 6;
    INSERT INTO bench_t SELECT total + i * 2 + g, 0, 'new', now() FROM generate_series(1, 2) g;
    UPDATE bench_t SET a = a - 1 WHERE id IN (total + i * 2 + 1, total + i * 2 + 2);
    COMMIT;
  END LOOP;
END $$;`;

interface PhaseResult {
  phase: string;
  changes: number;
  cpu: { native: CpuSnapshot; clone: CpuSnapshot; history: CpuSnapshot };
  nativeMs: number;
  cloneMs: number;
  cloneEngineMs: number;
  /** CPU seconds of this process to receive and decode the phase, nothing applied. */
  floorCpu: number;
  historyMs: number;
  historyEngineMs: number;
}

let peakHeap = 0;
/** process.memoryUsage() when the RSS was highest (sampled every 100 ms), and before the first phase. */
let atPeak: NodeJS.MemoryUsage | undefined;
let baseline: NodeJS.MemoryUsage | undefined;
setInterval(() => {
  const m = process.memoryUsage();
  peakHeap = Math.max(peakHeap, m.heapUsed);
  if (!atPeak || m.rss > atPeak.rss) atPeak = m;
}, 100).unref();

async function main(): Promise<void> {
  const source = await startPostgres({ version: 17, settings: SETTINGS });
  const dest = await startPostgres({ version: 17, settings: SETTINGS });
  try {
    await run(source, dest);
  } finally {
    await source.dropSlots().catch(() => {});
    await dest.stop();
    await source.stop();
  }
}

async function run(source: PgCluster, dest: PgCluster): Promise<void> {
  const srcDb = await source.createDatabase('bench_src');
  await source.sql(`${TABLE}; ${MARKER}`, [], srcDb);
  await source.sql(GENERATORS, [], srcDb);
  await source.sql('CREATE PUBLICATION p FOR TABLE bench_t, marker', [], srcDb);
  for (const s of ['s_native', 's_clone', 's_history', 's_floor']) {
    await source.sql(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [s], srcDb);
  }
  const nativeDb = await dest.createDatabase('native');
  await dest.sql(`${TABLE}; ${MARKER}`, [], nativeDb);
  const conn = `host=${source.host} port=${source.port} dbname=${srcDb} user=${source.user} password=${source.password}`;
  await dest.sql(
    `CREATE SUBSCRIPTION sub CONNECTION '${conn.replace(/'/g, "''")}' PUBLICATION p WITH (create_slot = false, slot_name = 's_native', enabled = false, copy_data = false)`,
    [],
    nativeDb,
  );
  const cloneDb = await dest.createDatabase('engine_clone');
  await dest.sql(`${TABLE}; ${MARKER}`, [], cloneDb);
  const historyDb = await dest.createDatabase('engine_history');
  await dest.sql(
    `${process.env.KUVASZ_BENCH_HISTORY_INDEX === 'versions' ? HISTORY.replace(/CREATE UNIQUE INDEX[^;]*;/, '') : HISTORY}; ${MARKER}`,
    [],
    historyDb,
  );

  // A pool rather than one client: a connection lost on this shared machine is replaced.
  const src = new pg.Pool({ connectionString: source.urlFor(srcDb), max: 2 });
  src.on('error', (e) => console.error('source connection error', e.message));
  const results: PhaseResult[] = [];
  const phases: [string, number, string][] = [
    ['insert', INSERTS, `CALL gen_insert(${INSERTS})`],
    ['update', UPDATES, `CALL gen_update(${UPDATES}, ${INSERTS})`],
    ['mix', MIX, `CALL gen_mix(${MIX}, ${INSERTS})`],
  ];
  baseline = process.memoryUsage();
  const sourcePm = await postmasterPid(source);
  const destPm = await postmasterPid(dest);
  const measure = async <T>(f: () => Promise<T>): Promise<[T, CpuSnapshot]> => {
    const a = cpuSnapshot(sourcePm, destPm);
    const r = await f();
    return [r, cpuDelta(a, cpuSnapshot(sourcePm, destPm))];
  };
  let phaseNo = 0;
  for (const [phase, n, call] of phases) {
    phaseNo++;
    if (PHASES && !PHASES.includes(phase)) continue;
    const t0 = Date.now();
    await src.query(call);
    await src.query('UPDATE marker SET phase = $1', [phaseNo]);
    console.log(
      `phase ${phase}: ${n.toLocaleString('en')} changes generated on the source in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    const [nativeMs, nativeCpu] = await measure(() =>
      native(dest, nativeDb, source, srcDb, phaseNo),
    );
    const [clone, cloneCpu] = await measure(() =>
      engine(src, source, srcDb, phaseNo, dest, cloneDb, 's_clone', 'clone'),
    );
    const [history, historyCpu] = SKIP_HISTORY
      ? [
          { totalMs: Number.NaN, engineMs: Number.NaN },
          { node: 0, source: 0, dest: 0 },
        ]
      : await measure(() =>
          engine(src, source, srcDb, phaseNo, dest, historyDb, 's_history', 'history'),
        );
    const [, floorCpu] = await measure(() => readOnly(source, srcDb, phaseNo));
    // Outside the measurement: the walsender may take a moment to exit.
    await waitFor(
      async () => !(await source.slots(srcDb)).find((s) => s.slot_name === 's_floor')?.active,
      { timeoutMs: 60_000, message: 's_floor to be released' },
    );
    results.push({
      phase,
      changes: n,
      floorCpu: floorCpu.node,
      cpu: { native: nativeCpu, clone: cloneCpu, history: historyCpu },
      nativeMs,
      cloneMs: clone.totalMs,
      cloneEngineMs: clone.engineMs,
      historyMs: history.totalMs,
      historyEngineMs: history.engineMs,
    });
    await checkEqual(dest, nativeDb, cloneDb);
  }
  await src.end();
  report(results);
  budget(results);
}

async function native(
  dest: PgCluster,
  db: string,
  source: PgCluster,
  srcDb: string,
  phase: number,
): Promise<number> {
  const t0 = performance.now();
  await dest.sql('ALTER SUBSCRIPTION sub ENABLE', [], db);
  const client = await dest.connect(db);
  try {
    await waitFor(
      async () => (await client.query('SELECT phase FROM marker')).rows[0]?.phase === phase,
      {
        timeoutMs: 1_800_000,
        intervalMs: 20,
        message: 'native subscription to catch up',
      },
    );
  } finally {
    await client.end();
  }
  const ms = performance.now() - t0;
  await dest.sql('ALTER SUBSCRIPTION sub DISABLE', [], db);
  await waitFor(
    async () => !(await source.slots(srcDb)).find((s) => s.slot_name === 's_native')?.active,
    {
      timeoutMs: 60_000,
      message: 'native slot to be released',
    },
  );
  return ms;
}

async function engine(
  src: pg.Pool,
  source: PgCluster,
  srcDb: string,
  phase: number,
  dest: PgCluster,
  db: string,
  slot: string,
  type: 'clone' | 'history',
): Promise<{ totalMs: number; engineMs: number }> {
  const pool = new pg.Pool({ connectionString: dest.urlFor(db), max: WORKERS + 2 });
  pool.on('error', (e) => console.error('destination pool error', e.message));
  const e = new ApplyEngine({
    destination: pool,
    workers: WORKERS,
    ...(BATCH ? { batchRows: BATCH } : {}),
    ...(PENDING ? { maxPendingRows: PENDING } : {}),
    ...(process.env.KUVASZ_BENCH_SYNC === 'off' ? { synchronousCommit: 'off' as const } : {}),
    tables: [
      {
        source: { database: 'bench', schema: 'public', table: 'bench_t' },
        target: { schema: 'public', table: 'bench_t' },
        type,
      },
      {
        source: { database: 'bench', schema: 'public', table: 'marker' },
        target: { schema: 'public', table: 'marker' },
        type: 'clone',
      },
    ],
  });
  await e.start();
  const asm = new TxAssembler(SOURCE, WIRE);
  let durable: bigint | undefined;
  e.onDurable((_s, lsn) => {
    durable = lsn;
  });
  const t0 = performance.now();
  let pushMs = 0;
  let decodeMs = 0;
  if (READER === 'sql') {
    // The previous reader: chunks of 20,000 changes through SQL (not pipelined with the source's decoding).
    for (;;) {
      const res = await src.query<{ data: Buffer }>(
        `SELECT data FROM pg_logical_slot_get_binary_changes($1, NULL, 20000, 'proto_version', '1', 'publication_names', 'p')`,
        [slot],
      );
      if (res.rows.length === 0) break;
      for (const row of res.rows) {
        const tx = asm.feed(row.data);
        if (tx) await e.push(tx);
      }
    }
  } else {
    // Streamed like the streamer reads it: the source decodes while we apply.
    let chain: Promise<void> = Promise.resolve();
    let outstanding = 0;
    await streamSlot({
      url: source.urlFor(srcDb),
      slot,
      publication: 'p',
      startLsn: 0n,
      durable: () => durable,
      onMessage: (data) => {
        const tx = VERBOSE
          ? timed(
              () => asm.feed(data),
              (ms) => (decodeMs += ms),
            )
          : asm.feed(data);
        if (!tx) return false;
        const last = reachesPhase(tx, phase);
        // Pushes run one after the other; reading goes on meanwhile, up to 100 transactions ahead.
        outstanding++;
        chain = chain.then(async () => {
          const p0 = VERBOSE ? performance.now() : 0;
          await e.push(tx);
          if (VERBOSE) pushMs += performance.now() - p0;
          outstanding--;
        });
        if (last) return chain.then(() => true);
        return outstanding > 100 ? chain.then(() => false) : false;
      },
    });
  }
  await e.flush();
  // Engine-only: the time the busiest worker spent applying (waiting for input excluded).
  const m = e.metrics();
  const engineMs = Math.max(...m.busyMs);
  if (VERBOSE) {
    console.log(
      `  ${type}: ${m.groups} destination transactions, ${Math.round(m.changes / Math.max(1, m.groups))} changes each (${m.splits} split, ${m.exactRuns} applied change by change)`,
    );
  }
  const totalMs = performance.now() - t0;
  if (VERBOSE) {
    console.log(
      `  ${type}: decoding ${(decodeMs / 1000).toFixed(1)} s, waiting in push ${(pushMs / 1000).toFixed(1)} s, total ${(totalMs / 1000).toFixed(1)} s`,
    );
  }
  const bad = e.stats().filter((s) => s.result !== 'ok' && s.result !== 'skipped');
  if (bad.length > 0 || e.sourceStatus(SOURCE).state !== 'running') {
    throw new Error(
      `engine (${type}) reported problems: ${JSON.stringify(bad)} ${String(e.sourceStatus(SOURCE).error)}`,
    );
  }
  await e.close();
  await pool.end();
  // The walsender may take a moment to exit; the next phase restarts this slot.
  await waitFor(
    async () => !(await source.slots(srcDb)).find((s) => s.slot_name === slot)?.active,
    { timeoutMs: 60_000, message: `${slot} to be released` },
  );
  return { totalMs, engineMs };
}

/** The transaction that sets the marker to `phase` ends that phase's backlog. */
function reachesPhase(tx: SourceTransaction, phase: number): boolean {
  return tx.changes.some(
    (c) =>
      c.op === 'update' &&
      c.relation.table === 'marker' &&
      // A wire update (the default reader) carries bytes: decode this one row.
      (c.new ?? (c.wire ? arenaValues(c.wire) : undefined))?.[1] === String(phase),
  );
}

/** Receives and decodes a phase from the floor slot, applying nothing. */
async function readOnly(source: PgCluster, srcDb: string, phase: number): Promise<void> {
  const asm = new TxAssembler(SOURCE, WIRE);
  let last: bigint | undefined;
  await streamSlot({
    url: source.urlFor(srcDb),
    slot: 's_floor',
    publication: 'p',
    startLsn: 0n,
    batchedReads: true,
    durable: () => last,
    onMessage: (data) => {
      const tx = asm.feed(data);
      if (!tx) return false;
      last = tx.commitLsn;
      return reachesPhase(tx, phase);
    },
  });
}

async function checkEqual(dest: PgCluster, a: string, b: string): Promise<void> {
  const q = 'SELECT count(*)::int AS n, sum(hashtext(t::text))::text AS h FROM bench_t t';
  const [x] = await dest.sql(q, [], a);
  const [y] = await dest.sql(q, [], b);
  if (JSON.stringify(x) !== JSON.stringify(y))
    throw new Error(`clone differs from native: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
}

function report(results: PhaseResult[]): void {
  const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
  const fmt = (n: number) => n.toLocaleString('en').padStart(9);
  console.log(
    '\nrows/s (changes applied per second; shared 2-core machine, figures are noisy: compare ratios)',
  );
  console.log(
    'phase     changes |    native |   clone e2e  ratio | clone engine | history e2e  ratio | history engine',
  );
  for (const r of results) {
    const nat = rate(r.changes, r.nativeMs);
    const c = rate(r.changes, r.cloneMs);
    const h = rate(r.changes, r.historyMs);
    console.log(
      `${r.phase.padEnd(7)} ${fmt(r.changes)} | ${fmt(nat)} | ${fmt(c)}  ${(c / nat).toFixed(2)}x | ${fmt(rate(r.changes, r.cloneEngineMs))}    | ${fmt(h)}  ${(h / nat).toFixed(2)}x | ${fmt(rate(r.changes, r.historyEngineMs))}`,
    );
  }
  const total = results.reduce((a, r) => a + r.changes, 0);
  const sum = (f: (r: PhaseResult) => number) => results.reduce((a, r) => a + f(r), 0);
  const nat = rate(
    total,
    sum((r) => r.nativeMs),
  );
  const c = rate(
    total,
    sum((r) => r.cloneMs),
  );
  const h = rate(
    total,
    sum((r) => r.historyMs),
  );
  console.log(
    `${'all'.padEnd(7)} ${fmt(total)} | ${fmt(nat)} | ${fmt(c)}  ${(c / nat).toFixed(2)}x | ${fmt(
      rate(
        total,
        sum((r) => r.cloneEngineMs),
      ),
    )}    | ${fmt(h)}  ${(h / nat).toFixed(2)}x | ${fmt(
      rate(
        total,
        sum((r) => r.historyEngineMs),
      ),
    )}`,
  );
  const mb = (n: number | undefined) => Math.round((n ?? 0) / 1048576);
  console.log(
    `peak RSS of this process: ${Math.round(process.resourceUsage().maxRSS / 1024)} MB (peak V8 heap used ${mb(peakHeap)} MB; heap growth ${HEAP_GROWING > 0 ? `${HEAP_GROWING} %` : "V8's default"})`,
  );
  console.log(
    `  sampled at the peak: RSS ${mb(atPeak?.rss)} MB = V8 heap ${mb(atPeak?.heapTotal)} MB (${mb(atPeak?.heapUsed)} used) + buffers ${mb(atPeak?.arrayBuffers)} MB + the rest (code, stacks, allocator); before the first phase: RSS ${mb(baseline?.rss)} MB, heap used ${mb(baseline?.heapUsed)} MB`,
  );
  console.log(
    '\nCPU seconds per phase (source cluster / destination cluster / this process; the process also decodes, and idles while native runs)',
  );
  const cpu = (x: CpuSnapshot) =>
    `${x.source.toFixed(1).padStart(5)} ${x.dest.toFixed(1).padStart(5)} ${x.node.toFixed(1).padStart(5)}`;
  console.log(
    'phase   |   native: src  dest  node |    clone: src  dest  node |  history: src  dest  node',
  );
  for (const r of results) {
    console.log(
      `${r.phase.padEnd(7)} |           ${cpu(r.cpu.native)} |           ${cpu(r.cpu.clone)} |           ${cpu(r.cpu.history)}`,
    );
  }
}

/**
 * What the node process may spend, per change, for our run to take no longer
 * than native's on this machine: the cores times native's time, minus what
 * our run's two clusters used (they run on the same cores). Printed beside
 * what the process did spend (reading, decoding and applying, GC included).
 */
function budget(results: PhaseResult[]): void {
  const cores = os.availableParallelism();
  console.log(
    `\nCPU budget for 1.0x native on this ${cores}-core machine (microseconds of this process per change: ${cores} x native's time - our clusters' CPU, divided by the changes)`,
  );
  console.log(
    'phase   |  clone: budget  spent | receive + decode at best |  history at 0.5x: budget  spent',
  );
  const us = (s: number, n: number) => ((s * 1e6) / n).toFixed(1).padStart(6);
  for (const r of results) {
    const t = r.nativeMs / 1000;
    const c = r.cpu.clone;
    const h = r.cpu.history;
    console.log(
      `${r.phase.padEnd(7)} |        ${us(cores * t - c.source - c.dest, r.changes)} ${us(c.node, r.changes)} |                   ${us(r.floorCpu, r.changes)} |                   ${SKIP_HISTORY ? '     -      -' : `${us(cores * 2 * t - h.source - h.dest, r.changes)} ${us(h.node, r.changes)}`}`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
