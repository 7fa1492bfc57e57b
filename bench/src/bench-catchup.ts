/**
 * Benchmark 2: catching up a backlog of row changes (10-change transactions)
 * that piled up while the consumer was away, phase by phase: the mixed
 * backlog (6 updates, 3 inserts, 1 delete per transaction) into clone and
 * history targets, then single-operation backlogs (inserts, updates,
 * deletes) into targets keyed by (sid, id) and by id alone, and inserts and
 * updates into history. Ours against a native subscription on the same
 * source and the same backlog; both were synced before the backlog was
 * written, then paused (streamer stopped, subscription disabled), then
 * resumed and timed until the backlog's last change is visible. Native
 * replication has no history mode: a history row compares our SCD2 apply
 * with native's plain apply of the same changes.
 */
import { type PgCluster, startPostgres } from '@kuvasz/testkit';
import type { BenchSizes } from './config.js';
import { processCpuSeconds, serverCpuSeconds } from './cpu.js';
import { noteVersion } from './machine.js';
import { cli, StreamerProcess, writeConfig } from './streamer-process.js';
import type { CatchUpResult, CatchUpRow } from './types.js';
import { BENCH_SETTINGS, fmt, one, say, until, untilRow } from './util.js';

const TX_ROWS = 10;

/** One backlog: what it changes, into which target type, with or without a `sid` column in the target. */
export interface CatchUpPhase {
  /** Short name, also the env selector (`KUVASZ_BENCH_CATCHUP=mixed-clone,insert-id`). */
  name: string;
  op: 'mixed' | 'insert' | 'update' | 'delete';
  type: 'clone' | 'history';
  /** The target's key is (sid, id) (consolidation) or id alone (the upgrade shape: a user-made table). */
  sid: boolean;
  /** Both read the source in pgoutput's binary mode (`apply.binary`, the subscription's `binary = true`). */
  binary?: boolean;
}

export const CATCHUP_PHASES: CatchUpPhase[] = [
  { name: 'mixed-clone', op: 'mixed', type: 'clone', sid: true },
  { name: 'mixed-history', op: 'mixed', type: 'history', sid: true },
  { name: 'insert-sid', op: 'insert', type: 'clone', sid: true },
  { name: 'insert-binary', op: 'insert', type: 'clone', sid: true, binary: true },
  { name: 'insert-id', op: 'insert', type: 'clone', sid: false },
  { name: 'update-sid', op: 'update', type: 'clone', sid: true },
  { name: 'update-id', op: 'update', type: 'clone', sid: false },
  { name: 'delete-sid', op: 'delete', type: 'clone', sid: true },
  { name: 'delete-id', op: 'delete', type: 'clone', sid: false },
  { name: 'insert-history', op: 'insert', type: 'history', sid: true },
  { name: 'update-history', op: 'update', type: 'history', sid: true },
];

/** `KUVASZ_BENCH_CATCHUP`: the phases to run, all by default. */
export function catchUpPhases(env: NodeJS.ProcessEnv = process.env): CatchUpPhase[] {
  const want = env.KUVASZ_BENCH_CATCHUP?.split(',').map((x) => x.trim());
  if (!want) return CATCHUP_PHASES;
  for (const w of want)
    if (!CATCHUP_PHASES.some((p) => p.name === w))
      throw new Error(
        `KUVASZ_BENCH_CATCHUP: unknown phase ${w}; use ${CATCHUP_PHASES.map((p) => p.name).join(',')}`,
      );
  return CATCHUP_PHASES.filter((p) => want.includes(p.name));
}

const TABLE = 'CREATE TABLE bl (id int PRIMARY KEY, v int NOT NULL, pad text NOT NULL)';

/**
 * The backlogs, one transaction per 10 changes; each ends by setting the
 * marker row (id 0) to v = 1 in a transaction of its own.
 */
const SOURCE_PROCEDURES = `
CREATE PROCEDURE backlog_mixed(iterations int, n int) LANGUAGE plpgsql AS $$
DECLARE k int := 0; lo int; hi int;
BEGIN
  WHILE k < iterations LOOP
    lo := k + 2; hi := n + 3 * k;           -- ids 1..k+1 are deleted by now, n+3k inserted
    FOR j IN 1..6 LOOP
      UPDATE bl SET v = v + 1 WHERE id = lo + ((k * 7919 + j * 104729) % (hi - lo + 1));
    END LOOP;
    INSERT INTO bl SELECT g, 0, md5(g::text) FROM generate_series(hi + 1, hi + 3) g;
    DELETE FROM bl WHERE id = k + 1;
    COMMIT;
    k := k + 1;
  END LOOP;
  UPDATE bl SET v = 1 WHERE id = 0;
  COMMIT;
END $$;
CREATE PROCEDURE backlog_insert(iterations int, n int) LANGUAGE plpgsql AS $$
BEGIN
  FOR k IN 0 .. iterations - 1 LOOP
    INSERT INTO bl SELECT g, 0, md5(g::text) FROM generate_series(n + 1 + k * 10, n + 10 + k * 10) g;
    COMMIT;
  END LOOP;
  UPDATE bl SET v = 1 WHERE id = 0;
  COMMIT;
END $$;
CREATE PROCEDURE backlog_update(iterations int, n int) LANGUAGE plpgsql AS $$
BEGIN
  FOR k IN 0 .. iterations - 1 LOOP
    FOR j IN 1..10 LOOP
      UPDATE bl SET v = v + 1 WHERE id = 1 + ((k * 7919 + j * 104729) % n);
    END LOOP;
    COMMIT;
  END LOOP;
  UPDATE bl SET v = 1 WHERE id = 0;
  COMMIT;
END $$;
CREATE PROCEDURE backlog_delete(iterations int, n int) LANGUAGE plpgsql AS $$
BEGIN
  FOR k IN 0 .. iterations - 1 LOOP
    DELETE FROM bl WHERE id BETWEEN 1 + k * 10 AND 10 + k * 10;
    COMMIT;
  END LOOP;
  UPDATE bl SET v = 1 WHERE id = 0;
  COMMIT;
END $$;
`;

const OPEN = "kvsz_end = '9999-01-01 00:00:00+00'";

/** The streamer's `apply` section: `KUVASZ_BENCH_CATCHUP_APPLY` (a YAML flow map), with `binary: true` for a binary phase. */
function applySection(phase: CatchUpPhase): string {
  const extra = process.env.KUVASZ_BENCH_CATCHUP_APPLY?.trim()
    .replace(/^\{|\}$/g, '')
    .trim();
  const entries = [...(extra ? [extra] : []), ...(phase.binary ? ['binary: true'] : [])];
  return entries.length > 0 ? `apply: { ${entries.join(', ')} }\n` : '';
}

async function waitSubscriptionIdle(s: PgCluster, db: string, sub: string) {
  await until(
    async () => {
      const r = await s.sql<{ active: boolean }>(
        'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
        [sub],
      );
      return r.length === 1 && !r[0]?.active;
    },
    { timeoutMs: 60_000, what: `subscription ${sub} to stop (db ${db})` },
  );
}

/**
 * Benchmark 2, per phase: a source database with one table, synced by a
 * native subscription and by kuvasz-streamer (each into its own destination
 * database), both then paused; the backlog is written, then each consumer
 * is resumed alone and timed until the marker is visible; then the rows are
 * compared with the source and everything is dropped, so no phase's slots
 * hold WAL during the next one.
 */
export async function benchCatchUp(
  sizes: BenchSizes,
  phases: CatchUpPhase[] = catchUpPhases(),
): Promise<CatchUpResult & { problems: string[] }> {
  const s = await startPostgres({ version: 17, settings: BENCH_SETTINGS });
  const d = await startPostgres({ version: 17, settings: BENCH_SETTINGS });
  await Promise.all([noteVersion(s), noteVersion(d)]);
  const problems: string[] = [];
  const rows: CatchUpRow[] = [];
  try {
    for (const phase of phases) rows.push(await runPhase(s, d, sizes, phase, problems));
    return { version: s.version, transactionRows: TX_ROWS, rows, problems };
  } finally {
    await s.stop();
    await d.stop();
  }
}

async function runPhase(
  s: PgCluster,
  d: PgCluster,
  sizes: BenchSizes,
  phase: CatchUpPhase,
  problems: string[],
): Promise<CatchUpRow> {
  const tag = phase.name.replaceAll('-', '_');
  const src = await s.createDatabase(`cu_${tag}`);
  const ours = await d.createDatabase(`cu_${tag}_ours`);
  const native = await d.createDatabase(`cu_${tag}_native`);
  const iterations = Math.ceil(sizes.backlogChanges / TX_ROWS);
  const changes = iterations * TX_ROWS + 1;
  // Rows before the backlog: enough for the deletes, 100,000 at least for updates to spread over.
  const n = phase.op === 'delete' ? iterations * TX_ROWS : Math.max(100_000, iterations + 1000);
  await s.sql(`${TABLE}; ${SOURCE_PROCEDURES}`, [], src);
  await s.sql(
    `INSERT INTO bl SELECT g, 0, md5(g::text) FROM generate_series(0, $1::int) g`,
    [n],
    src,
  );
  await d.sql(TABLE, [], native);
  // Without sid the target is the user's own table (as after pg_dump --schema-only); with it, `plan` makes it.
  if (!phase.sid) await d.sql(TABLE, [], ours);

  say(`catch-up ${phase.name}: syncing both consumers (${fmt(n + 1)} rows)`);
  await s.sql('CREATE PUBLICATION sub_bl FOR TABLE bl', [], src);
  await d.sql(
    `CREATE SUBSCRIPTION sub_${tag} CONNECTION '${s.urlFor(src)}' PUBLICATION sub_bl WITH (copy_data = true${phase.binary ? ', binary = true' : ''})`,
    [],
    native,
  );
  await until(
    async () =>
      Number(
        (
          await one<{ n: string }>(
            d,
            native,
            "SELECT count(*)::text AS n FROM pg_subscription_rel WHERE srsubstate <> 'r'",
          )
        ).n,
      ) === 0,
    { timeoutMs: 600_000, what: 'the native initial sync' },
  );
  await d.sql(`ALTER SUBSCRIPTION sub_${tag} DISABLE`, [], native);
  await waitSubscriptionIdle(s, native, `sub_${tag}`);

  const file = writeConfig(
    `catchup-${phase.name}.yaml`,
    `destination: { url: "${d.urlFor(ours)}" }
databases:
  - database: cu
    urls: [{ url: "${s.urlFor(src)}", sid: ${tag} }]
    tables: { bl: { type: ${phase.type} } }
${applySection(phase)}`,
  );
  cli(['plan', '-c', file, '--apply']);
  const sync = new StreamerProcess(file);
  try {
    await sync.streaming(1, 600_000);
  } finally {
    await sync.stop();
  }

  say(
    `catch-up ${phase.name}: writing a backlog of ${fmt(changes)} changes (${phase.op}) in ${TX_ROWS}-change transactions`,
  );
  await s.sql(`CALL backlog_${phase.op}($1, $2)`, [iterations, n], src);
  const expected = await one<{ n: string; v: string }>(
    s,
    src,
    'SELECT count(*)::text AS n, coalesce(sum(v), 0)::text AS v FROM bl',
  );
  await s.sql('CHECKPOINT');

  say(`catch-up ${phase.name}: native subscription ...`);
  const servers = () => ({
    source: serverCpuSeconds(s.dataDir),
    dest: serverCpuSeconds(d.dataDir),
  });
  const n0 = servers();
  const t0 = performance.now();
  await d.sql(`ALTER SUBSCRIPTION sub_${tag} ENABLE`, [], native);
  await untilRow(d, native, 'SELECT 1 FROM bl WHERE id = 0 AND v = 1', {
    timeoutMs: 3_600_000,
    intervalMs: 50,
    what: `native catch-up of ${phase.name}`,
  });
  const nativeSeconds = (performance.now() - t0) / 1000;
  const n1 = servers();
  await d.sql(`ALTER SUBSCRIPTION sub_${tag} DISABLE`, [], native);
  await waitSubscriptionIdle(s, native, `sub_${tag}`);
  const gotNative = await one<{ n: string; v: string }>(
    d,
    native,
    'SELECT count(*)::text AS n, coalesce(sum(v), 0)::text AS v FROM bl',
  );
  if (gotNative.n !== expected.n || gotNative.v !== expected.v)
    problems.push(
      `native ${phase.name}: ${JSON.stringify(gotNative)} != source ${JSON.stringify(expected)}`,
    );
  say(`catch-up ${phase.name}: native ${fmt(nativeSeconds, 1)} s`);

  say(`catch-up ${phase.name}: kuvasz-streamer ...`);
  const open = phase.type === 'history' ? ` AND ${OPEN}` : '';
  const markerKey = phase.sid ? `sid = '${tag}' AND id = 0` : 'id = 0';
  const o0 = servers();
  const t1 = performance.now();
  const p = new StreamerProcess(file);
  let oursSeconds: number;
  let streamerCpu = Number.NaN;
  let o1 = o0;
  try {
    // By the target's key: without the sid, a (sid, id) key cannot serve the
    // poll, and every poll would scan the whole table while it is being timed.
    await untilRow(d, ours, `SELECT 1 FROM bl WHERE ${markerKey} AND v = 1${open}`, {
      timeoutMs: 3_600_000,
      intervalMs: 50,
      what: `kuvasz-streamer catch-up of ${phase.name}`,
    });
    oursSeconds = (performance.now() - t1) / 1000;
    o1 = servers();
    if (p.child.pid !== undefined) streamerCpu = processCpuSeconds(p.child.pid);
  } finally {
    await p.stop();
  }
  for (const problem of p.problems()) problems.push(`${phase.name}: ${problem}`);
  const gotOurs = await one<{ n: string; v: string }>(
    d,
    ours,
    `SELECT count(*)::text AS n, coalesce(sum(v), 0)::text AS v FROM bl${phase.type === 'history' ? ` WHERE ${OPEN} AND NOT kvsz_deleted` : ''}`,
  );
  if (gotOurs.n !== expected.n || gotOurs.v !== expected.v)
    problems.push(
      `kuvasz-streamer ${phase.name}: ${JSON.stringify(gotOurs)} != source ${JSON.stringify(expected)}`,
    );
  const cpu = {
    streamerUsPerChange: (streamerCpu * 1e6) / changes,
    oursSource: o1.source - o0.source,
    oursDest: o1.dest - o0.dest,
    nativeSource: n1.source - n0.source,
    nativeDest: n1.dest - n0.dest,
  };
  say(
    `catch-up ${phase.name}: kuvasz-streamer ${fmt(oursSeconds, 1)} s (${fmt((p.streamingAt ?? 0) / 1000, 1)} s of it to start and connect), peak RSS ${fmt(p.peakRss() / 1e6)} MB, ratio ${(nativeSeconds / oursSeconds).toFixed(2)}x; CPU s source / destination / streamer: ours ${fmt(cpu.oursSource, 1)} / ${fmt(cpu.oursDest, 1)} / ${fmt(streamerCpu, 1)} (${fmt(cpu.streamerUsPerChange, 2)} us per change), native ${fmt(cpu.nativeSource, 1)} / ${fmt(cpu.nativeDest, 1)}`,
  );

  cli(['teardown', '-c', file, '--yes']);
  await d.sql(`DROP SUBSCRIPTION sub_${tag}`, [], native);
  await s.sql(
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active',
  );
  const oursStreamingSeconds = oursSeconds - (p.streamingAt ?? 0) / 1000;
  return {
    type: phase.type,
    phase: phase.name,
    op: phase.op,
    sid: phase.sid,
    ...(phase.binary ? { binary: true } : {}),
    changes,
    oursSeconds,
    oursStreamingSeconds,
    nativeSeconds,
    oursRowsPerSec: changes / oursSeconds,
    nativeRowsPerSec: changes / nativeSeconds,
    ratio: nativeSeconds / oursSeconds,
    peakRssBytes: p.peakRss(),
    cpu,
  };
}
