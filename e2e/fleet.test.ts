/**
 * Several instances, one fleet (docs/fleet.md): 30 tenant databases on one
 * PG 14 server, streamed by 3 (then 4) `kuvasz-streamer run` processes with
 * the same configuration into one PG 17 history table, under a steady load.
 * Every source is streamed by exactly one instance; an instance killed,
 * paused past its lease or restarted hands its sources on; and at the end
 * the destination equals the sources with one version chain per key whose
 * counter steps by one: no change lost, none applied twice.
 */
import type { PgCluster } from '@kuvasz/testkit';
import { startPostgres, waitFor } from '@kuvasz/testkit';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type Db, historyProblems, OPEN, waitForSame } from './checks.js';
import { runCli } from './cli.js';
import { type CliProcess, freePort, killAll, startRun, tempDir, writeConfig } from './harness.js';
import { commitsMore, Workload } from './workload.js';

const TENANTS = 30;
const KEYS = 4;
const LEASE_SECONDS = 5;
const TAKE_PER_ROUND = 4;

let srcPg: PgCluster;
let dstPg: PgCluster;

beforeAll(async () => {
  [srcPg, dstPg] = await Promise.all([
    startPostgres({
      version: 14,
      settings: { max_wal_senders: 80, max_replication_slots: 80, max_connections: 200 },
    }),
    startPostgres({ version: 17, settings: { max_connections: 200 } }),
  ]);
}, 120_000);

afterAll(async () => {
  await killAll();
  await Promise.all([srcPg, dstPg].map((c) => c?.stop()));
});

interface Fleet {
  name: string;
  tenants: Db[];
  dwh: Db;
  instances: Map<string, CliProcess>;
  ports: Map<string, number>;
  start(id: string): CliProcess;
  load: Workload[];
}

/** 30 tenant databases, the history target (with the time each version became visible), and a way to start instances. */
async function fleet(name: string): Promise<Fleet> {
  const tenants: Db[] = [];
  for (let i = 1; i <= TENANTS; i++) {
    const db = await srcPg.createDatabase(`${name}_t${i}`);
    await srcPg.sql(
      `CREATE TABLE acct (id int PRIMARY KEY, n int NOT NULL);
       INSERT INTO acct SELECT g, 0 FROM generate_series(1, ${KEYS}) g`,
      [],
      db,
    );
    tenants.push({ cluster: srcPg, db });
  }
  const dwh: Db = { cluster: dstPg, db: await dstPg.createDatabase(`${name}_dwh`) };
  await dstPg.sql(
    `CREATE TABLE acct (sid text NOT NULL, id int NOT NULL, n int NOT NULL,
       kvsz_start timestamptz NOT NULL, kvsz_end timestamptz NOT NULL, kvsz_deleted boolean NOT NULL DEFAULT false,
       seen_at timestamptz NOT NULL DEFAULT clock_timestamp(),
       PRIMARY KEY (sid, id, kvsz_start))`,
    [],
    dwh.db,
  );
  const dir = tempDir();
  const instances = new Map<string, CliProcess>();
  const ports = new Map<string, number>();
  const configFor = async (id: string) => {
    ports.set(id, await freePort());
    return writeConfig(
      dir,
      `${id}.yaml`,
      `destination: { url: "${dstPg.urlFor(dwh.db)}" }
databases:
  - database: ${name}
    urls:
${tenants.map((t, i) => `      - { url: "${srcPg.urlFor(t.db)}", sid: t${i + 1} }`).join('\n')}
    tables:
      acct: { type: history }
apply: { flush_interval_ms: 50 }
fleet: { enabled: true, instance_id: ${id}, lease_seconds: ${LEASE_SECONDS}, renew_seconds: 1, take_per_round: ${TAKE_PER_ROUND} }
http: { listen: "127.0.0.1:${ports.get(id)}" }
`,
    );
  };
  const configs = new Map<string, string>();
  for (const id of ['i1', 'i2', 'i3', 'i4', 'i1b', 'i2b', 'i3b'])
    configs.set(id, await configFor(id));
  return {
    name,
    tenants,
    dwh,
    instances,
    ports,
    start(id) {
      const p = startRun(configs.get(id)!);
      instances.set(id, p);
      return p;
    },
    load: [],
  };
}

/** Unexpired leases per owner, by the destination's clock. */
async function owners(f: Fleet): Promise<Map<string, number>> {
  const rows = await dstPg
    .sql<{ owner: string; n: number }>(
      `SELECT owner, count(*)::int AS n FROM kuvasz.source_leases
        WHERE owner IS NOT NULL AND expires_at > now() AND source_database = $1 GROUP BY owner`,
      [f.name],
      f.dwh.db,
    )
    // Before the first instance created the metadata schema; any other error is the test's.
    .catch((e: unknown) => {
      if ((e as { code?: string }).code === '42P01') return [];
      throw e;
    });
  return new Map(rows.map((r) => [r.owner, r.n]));
}

/** Walsenders streaming one of this fleet's slots right now. */
async function streamingSlots(f: Fleet): Promise<number> {
  const [r] = await srcPg.sql<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_replication_slots s JOIN pg_database d ON d.datname = s.database
      WHERE s.active AND d.datname LIKE $1`,
    [`${f.name}_t%`],
    'postgres',
  );
  return r?.n ?? 0;
}

/**
 * What a timed-out wait shows: owners, streaming slots, the slots not
 * streaming, and the last fleet, slot and failure lines of every instance.
 */
async function fleetState(f: Fleet): Promise<string> {
  const idle = await srcPg
    .sql<{ d: string }>(
      `SELECT d.datname AS d FROM pg_replication_slots s JOIN pg_database d ON d.datname = s.database
        WHERE NOT s.active AND d.datname LIKE $1 ORDER BY 1`,
      [`${f.name}_t%`],
      'postgres',
    )
    .catch((e: unknown) => [{ d: `(${String(e)})` }]);
  const logs = [...f.instances]
    .flatMap(([id, p]) =>
      p
        .logs()
        .filter(
          (l) =>
            Number(l.level) >= 40 ||
            /fleet|slot|stopp|streaming|failed|retry|reconnect/.test(String(l.msg)),
        )
        .map((l) => ({ id, l })),
    )
    .sort((a, b) => Number(a.l.time) - Number(b.l.time))
    .map(
      ({ id, l }) =>
        `${id} ${l.time} ${l.sid ?? ''} ${l.msg} ${l.err ? JSON.stringify(l.err).slice(0, 300) : ''}`,
    );
  return `owners ${JSON.stringify([...(await owners(f))])}, streaming ${await streamingSlots(f)}, slots not active: ${idle.map((r) => r.d).join(' ') || 'none'}\n${logs.slice(-80).join('\n')}`;
}

/** Every source owned (unexpired) by exactly the given instances, `each` apiece, and streaming. */
async function balanced(f: Fleet, ids: string[], each: (n: number) => boolean): Promise<void> {
  let o = new Map<string, number>();
  await waitFor(
    async () => {
      o = await owners(f);
      const total = [...o.values()].reduce((a, b) => a + b, 0);
      return (
        total === TENANTS &&
        [...o.keys()].every((k) => ids.includes(k)) &&
        ids.every((id) => each(o.get(id) ?? 0)) &&
        (await streamingSlots(f)) === TENANTS
      );
    },
    {
      timeoutMs: 90_000,
      intervalMs: 200,
      message: `${ids.join(', ')} to share the ${TENANTS} sources`,
    },
  ).catch(async (e: unknown) => {
    throw new Error(
      `${String(e)}; owners at the end: ${JSON.stringify([...o])}; ${await fleetState(f)}`,
    );
  });
}

/** A transaction per tenant every ~100 ms: one key's counter + 1 (the history's version column). */
function startLoad(f: Fleet): void {
  f.load = f.tenants.map(
    (t) =>
      new Workload(
        t.cluster,
        t.db,
        async (c, i) => {
          await c.query('UPDATE acct SET n = n + 1 WHERE id = $1', [(i % KEYS) + 1]);
        },
        { pauseMs: 100 },
      ),
  );
}

/** Stops the load, then: every tenant's open versions equal its rows, and every chain is whole. */
async function assertExactlyOnce(f: Fleet): Promise<void> {
  await Promise.all(f.load.map((w) => w.stop()));
  for (const [i, t] of f.tenants.entries()) {
    await waitForSame(
      t,
      'SELECT id, n FROM acct',
      f.dwh,
      `SELECT id, n FROM acct WHERE sid = 't${i + 1}' AND ${OPEN}`,
      { timeoutMs: 60_000, message: `tenant t${i + 1}` },
    );
  }
  expect(await historyProblems(f.dwh, 'acct', ['id'], { versionColumn: 'n' })).toEqual([]);
}

/** p50 / p99 of source commit to visible in the destination, over versions that started in [from, to). */
async function latency(f: Fleet, from: Date, to: Date): Promise<string> {
  const [r] = await dstPg.sql<{ p50: number | null; p99: number | null; n: number }>(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, count(*)::int AS n
       FROM (SELECT extract(epoch FROM seen_at - kvsz_start) * 1000 AS ms FROM acct
              WHERE kvsz_start >= $1 AND kvsz_start < $2) x`,
    [from, to],
    f.dwh.db,
  );
  return `p50 ${r?.p50?.toFixed(0)} ms, p99 ${r?.p99?.toFixed(0)} ms over ${r?.n} changes`;
}

async function stopAll(f: Fleet): Promise<void> {
  for (const [id, p] of f.instances) {
    if (!p.running) continue;
    const res = await p.stop('SIGTERM');
    expect(res.code, `${id}: ${p.stderr.slice(-2000)}`).toBe(0);
  }
}

async function teardown(f: Fleet): Promise<void> {
  const any = [...f.instances.values()][0];
  const config = any ? /-c\s+(\S+)/.exec(any.child.spawnargs.join(' '))?.[1] : undefined;
  if (config) expect(runCli(['teardown', '-c', config, '--yes']).status).toBe(0);
}

/**
 * Runs `body` on a fleet of i1, i2 and i3 that share the 30 sources 10 each,
 * under load; then stops what is left and tears the sources down.
 */
async function withFleet(name: string, body: (f: Fleet) => Promise<void>): Promise<void> {
  const f = await fleet(name);
  try {
    for (const id of ['i1', 'i2', 'i3']) f.start(id);
    await balanced(f, ['i1', 'i2', 'i3'], (n) => n === 10);
    startLoad(f);
    await commitsMore(f.load[0]!, 20);
    await body(f);
  } finally {
    await killAll();
    await teardown(f);
  }
}

test('3 instances share 30 sources one each; SIGKILL one under load: its sources resume on the others within lease_seconds + 5 s, nothing lost or doubled', async () => {
  await withFleet('fk', async (f) => {
    const killedAt = Date.now();
    await f.instances.get('i1')!.stop('SIGKILL');
    await waitFor(
      async () => {
        const o = await owners(f);
        return (
          !o.has('i1') &&
          (o.get('i2') ?? 0) + (o.get('i3') ?? 0) === TENANTS &&
          (await streamingSlots(f)) === TENANTS
        );
      },
      {
        timeoutMs: (LEASE_SECONDS + 5) * 1000 * Number(process.env.KVSZ_FLEET_SLACK ?? 1),
        intervalMs: 100,
        message: `i1's sources to resume on i2 and i3 within ${LEASE_SECONDS + 5} s`,
      },
    ).catch(async (e: unknown) => {
      throw new Error(`${String(e)}; ${await fleetState(f)}`);
    });
    const after = (msg: RegExp) =>
      ['i2', 'i3']
        .flatMap((id) => f.instances.get(id)!.logs())
        .filter((l) => msg.test(String(l.msg)) && Number(l.time) > killedAt)
        .map((l) => Number(l.time) - killedAt);
    console.log(
      `fleet: i1's sources streamed again ${Date.now() - killedAt} ms after its SIGKILL (leases taken at ${after(/^fleet: lease taken/).join(', ')} ms; streaming at ${after(/^streaming$/).join(', ')} ms)`,
    );
    // Any instance's status shows who holds each source, as the leases say.
    const status = (await (
      await fetch(`http://127.0.0.1:${f.ports.get('i2')}/api/status`)
    ).json()) as {
      sources: { sid: string; state: string; lease: { owner: string; expired: boolean } | null }[];
      fleet: { instanceId: string; liveInstances: number; owned: number } | null;
    };
    const o = await owners(f);
    expect(status.fleet).toEqual({ instanceId: 'i2', liveInstances: 2, owned: o.get('i2') });
    expect(status.sources.filter((s) => s.lease?.owner === 'i3' && !s.lease.expired)).toHaveLength(
      o.get('i3') ?? -1,
    );
    await commitsMore(f.load[0]!, 20);
    await assertExactlyOnce(f);
    await stopAll(f);
    // A clean stop releases the leases at once.
    expect(await owners(f)).toEqual(new Map());
  });
}, 300_000);

test('an instance paused (SIGSTOP) past its lease writes nothing once resumed: its sources went on elsewhere, it notices and rejoins', async () => {
  await withFleet('fs', async (f) => {
    const paused = f.instances.get('i2')!;
    paused.child.kill('SIGSTOP');
    try {
      await waitFor(
        async () => {
          const o = await owners(f);
          return !o.has('i2') && (await streamingSlots(f)) === TENANTS;
        },
        { timeoutMs: 60_000, intervalMs: 200, message: "i2's sources to move to i1 and i3" },
      );
      await commitsMore(f.load[0]!, 20);
    } finally {
      paused.child.kill('SIGCONT');
    }
    // It finds its leases gone, stops those sources, then takes a share again.
    await paused.waitForLog(/^fleet: lease lost/, 30_000);
    await balanced(f, ['i1', 'i2', 'i3'], (n) => n === 10);
    expect(paused.countLogs(/^fleet: lease lost/)).toBe(10);
    await commitsMore(f.load[0]!, 10);
    await assertExactlyOnce(f);
    await stopAll(f);
  });
}, 300_000);

test('rolling restart of every instance under load: nothing lost or doubled; latency during the roll reported', async () => {
  await withFleet('fr', async (f) => {
    const before = new Date();
    await new Promise((r) => setTimeout(r, 3000));
    const rollStart = new Date();
    const ids = ['i1', 'i2', 'i3'];
    for (const [k, id] of [...ids].entries()) {
      const res = await f.instances.get(id)!.stop('SIGTERM');
      expect(res.code, f.instances.get(id)!.stderr.slice(-2000)).toBe(0);
      f.instances.delete(id);
      ids[k] = `${id}b`;
      f.start(`${id}b`);
      await balanced(f, ids, (n) => n === 10);
    }
    const rollEnd = new Date();
    await commitsMore(f.load[0]!, 20);
    console.log(
      `fleet rolling restart (${((rollEnd.getTime() - rollStart.getTime()) / 1000).toFixed(1)} s): before ${await latency(f, before, rollStart)}; during ${await latency(f, rollStart, rollEnd)}`,
    );
    await assertExactlyOnce(f);
    await stopAll(f);
  });
}, 400_000);

test('a fourth instance joins: sources move to it a few at a time, none ever streamed twice', async () => {
  await withFleet('fj', async (f) => {
    f.start('i4');
    const seen: number[] = [];
    let walsenders = 0;
    // Slow is not stuck: on a loaded machine the moves may take long, so the
    // wait fails when nothing has moved (i4's share, streaming slots) for
    // 60 s, or after 200 s in all; the message shows each move and when.
    const moves: string[] = [];
    const began = performance.now();
    let lastMove = began;
    let last = '';
    for (;;) {
      const [o, active, ws] = await Promise.all([
        owners(f),
        streamingSlots(f),
        // The most walsenders streaming one tenant database at the same moment.
        srcPg.sql<{ n: number }>(
          `SELECT coalesce(max(n), 0)::int AS n FROM (
             SELECT count(*) AS n FROM pg_stat_replication r JOIN pg_stat_activity a USING (pid)
              WHERE a.datname LIKE $1 AND r.state = 'streaming' GROUP BY a.datname) x`,
          [`${f.name}_t%`],
          'postgres',
        ),
      ]);
      const now = performance.now();
      walsenders = Math.max(walsenders, ws[0]?.n ?? 0);
      seen.push(o.get('i4') ?? 0);
      const state = `i4 ${o.get('i4') ?? 0}, streaming ${active}`;
      if (state !== last) {
        moves.push(`${state} @${Math.round(now - began)}ms`);
        last = state;
        lastMove = now;
      }
      if ((o.get('i4') ?? 0) >= 7 && active === TENANTS) break;
      if (now - lastMove > 60_000 || now - began > 200_000) {
        throw new Error(
          `i4 did not get its share (7 or 8 of 30): ${now - lastMove > 60_000 ? 'nothing moved for 60 s' : 'not within 200 s'}; moves: ${moves.join(', ')}; ${await fleetState(f)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    // Never two walsenders streaming one source: no source is streamed by two instances.
    expect(walsenders).toBe(1);
    // A few at a time: each of i4's rounds took at most take_per_round free
    // leases (none expired: nobody left), and it took them over several rounds.
    const rounds = f.instances
      .get('i4')!
      .logs()
      .filter((l) => l.msg === 'fleet: round took leases')
      .map((l) => ({ expired: Number(l.expired), free: Number(l.free) }));
    const series = `i4's rounds: ${JSON.stringify(rounds)}; moves: ${moves.join(', ')}`;
    expect(rounds.length, series).toBeGreaterThan(1);
    for (const r of rounds) {
      expect(r.expired, series).toBe(0);
      expect(r.free, series).toBeLessThanOrEqual(TAKE_PER_ROUND);
    }
    expect(seen.filter((n, i) => i > 0 && n > seen[i - 1]!).length, series).toBeGreaterThan(1);
    await balanced(f, ['i1', 'i2', 'i3', 'i4'], (n) => n === 7 || n === 8);
    await assertExactlyOnce(f);
    await stopAll(f);
  });
}, 420_000);
