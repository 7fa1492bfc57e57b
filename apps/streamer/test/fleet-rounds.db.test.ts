/**
 * The fleet's rounds over a real lease store (the destination's metadata
 * schema): a newcomer gets its share from the others one hand-over per
 * round each, and a hand-over whose flush does not end is said in the log
 * instead of silently holding up every later one. The members here stand
 * for the streamer's source runners: starting and stopping a source is
 * what they record (the e2e fleet tests run the real ones).
 */
import { ensureMetadataSchema } from '@kuvasz/core';
import { testedVersions, waitFor } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import pg from 'pg';
import pino from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { Fleet, type FleetMembers } from '../src/fleet/fleet.js';
import { LeaseStore, type SourceKey } from '../src/fleet/lease-store.js';
import { createMetrics } from '../src/observability/metrics.js';

const SOURCES: SourceKey[] = Array.from({ length: 12 }, (_, i) => ({
  database: 'shop',
  sid: `t${i + 1}`,
}));

describe.each(testedVersions())('fleet rounds on PG %i', (version) => {
  const pgc = useCluster({ version });
  const open: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of open.splice(0).reverse()) await close();
  });

  async function member(
    url: string,
    id: string,
    stop: (s: SourceKey) => Promise<void> = async () => undefined,
  ) {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on('error', () => undefined);
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const store = new LeaseStore(pool, 'kuvasz', async () => {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    });
    const streaming = new Set<string>();
    const members: FleetMembers = {
      start: async (s) => void streaming.add(s.sid),
      stop: async (s) => {
        await stop(s);
        streaming.delete(s.sid);
      },
    };
    const fleet = new Fleet(
      { instanceId: id, leaseSeconds: 2, renewSeconds: 0.3, takePerRound: 4 },
      store,
      SOURCES,
      members,
      log,
      createMetrics(),
    );
    await fleet.start();
    open.push(async () => {
      await fleet.close();
      await pool.end();
    });
    return { fleet, streaming, lines };
  }

  test('a start takes take_per_round a round; a newcomer gets its share from the others; a hand-over that does not end is logged', async () => {
    const c = pgc.get();
    const db = await c.createDatabase();
    const url = c.urlFor(db);
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    await ensureMetadataSchema(setup, 'kuvasz');
    await setup.end();

    // The second instance's flush of the first source it hands over never ends.
    let stuck: string | undefined;
    let unstick = () => {};
    const flushed = new Promise<void>((resolve) => {
      unstick = resolve;
    });
    const a = await member(url, 'a');
    const b = await member(url, 'b', async (s) => {
      if (stuck === undefined) stuck = s.sid;
      if (s.sid === stuck) await flushed;
    });
    // Closed first (closers run last to first): the flush ends before b is closed, also when the test fails.
    open.push(async () => unstick());
    await waitFor(() => a.streaming.size === 6 && b.streaming.size === 6, {
      timeoutMs: 30_000,
      message: 'a and b to hold 6 sources each',
    });
    // 12 free leases, a share of 6 or more: a start takes take_per_round (4) per round, no more.
    const aRounds = a.lines.filter((l) => l.msg === 'fleet: round took leases');
    expect(aRounds[0]).toMatchObject({ expired: 0, free: 4 });
    for (const r of [...aRounds, ...b.lines.filter((l) => l.msg === 'fleet: round took leases')])
      expect(Number(r.free)).toBeLessThanOrEqual(4);
    const newcomer = await member(url, 'c');
    // a hands over 2 (6 -> 4); b is stuck on its first hand-over, so c gets 2 from a, and the stuck one stays b's.
    await waitFor(() => a.streaming.size === 4 && newcomer.streaming.size === 2, {
      timeoutMs: 30_000,
      message: 'a to hand 2 sources to c',
    });
    await waitFor(() => b.lines.some((l) => /hand-over is still flushing/.test(String(l.msg))), {
      timeoutMs: 30_000,
      message: "b's warning about its stuck hand-over",
    });
    const warning = b.lines.find((l) => /hand-over is still flushing/.test(String(l.msg)))!;
    expect(warning).toMatchObject({ level: 40, database: 'shop', sid: stuck });
    // Every source streams on exactly one instance (the stuck one still on b).
    const all = [...a.streaming, ...b.streaming, ...newcomer.streaming];
    expect(new Set(all).size).toBe(SOURCES.length);
    expect(all).toHaveLength(SOURCES.length);
    expect(b.streaming.has(stuck!)).toBe(true);
    // Once that flush ends, b hands it over and the shares even out.
    unstick();
    await waitFor(() => [a, b, newcomer].every((m) => m.streaming.size === 4), {
      timeoutMs: 30_000,
      message: 'a, b and c to hold 4 sources each',
    });
  }, 90_000);
});
