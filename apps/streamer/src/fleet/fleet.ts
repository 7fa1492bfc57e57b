import { type LeaseFence, sleep } from '@kuvasz/core';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { Metrics } from '../observability/metrics.js';
import { type HeldLease, type LeaseStore, type SourceKey, sourceKey } from './lease-store.js';

/** `fleet:` of the configuration, resolved (take_per_round: at most this many sources taken per round). */
export type FleetSettings = NonNullable<Config['fleet']>;

/** What the fleet asks of the process: start and stop streaming a source. */
export interface FleetMembers {
  /** The lease was taken: claim the source at `fence` and start streaming it. */
  start(source: SourceKey, fence: LeaseFence): Promise<void>;
  /**
   * Stop streaming the source, flushing and acknowledging what was received:
   * before a hand-over that is what the next owner starts from; after a lost
   * lease the fence refuses it, so nothing of it is written.
   */
  stop(source: SourceKey): Promise<void>;
}

interface Held extends HeldLease {
  takenAt: number;
}

export interface FleetView {
  instanceId: string;
  liveInstances: number;
  /** Sources whose lease this instance holds. */
  owned: number;
}

/**
 * One instance's part in a fleet: every `renewSeconds` it renews its leases
 * (a lease not renewed is lost: its source stops), takes free or expired
 * leases up to ceil(sources / live instances), a few per round, and hands
 * one source over per round while above that, or above the floor while
 * another live instance is below the floor (a newcomer).
 * Rounds never overlap; hand-overs run beside them so renewals go on.
 */
export class Fleet {
  private readonly held = new Map<string, Held>();
  /** Sources being stopped: not taken again until their reader has ended. */
  private readonly stopping = new Map<string, Promise<void>>();
  private live = 1;
  private lastRenewed = Date.now();
  private loop: Promise<void> | undefined;
  private readonly controller = new AbortController();
  private lastErrorLog = 0;
  private closed = false;
  private wake: (() => void) | undefined;
  /** At the last round: fewer leases than the share (a released one is worth a round now). */
  private belowShare = true;

  constructor(
    private readonly settings: FleetSettings,
    private readonly store: LeaseStore,
    private readonly sources: SourceKey[],
    private readonly members: FleetMembers,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  view(): FleetView {
    return {
      instanceId: this.settings.instanceId,
      liveInstances: this.live,
      owned: this.held.size,
    };
  }

  holds(source: SourceKey): boolean {
    return this.held.has(sourceKey(source));
  }

  /** Registers the instance; the first take waits one round, so instances starting together see each other. */
  async start(): Promise<void> {
    await this.store.ensure(this.sources);
    await this.store.holdInstanceLock(this.settings.instanceId);
    this.live =
      (await this.store.heartbeat(this.settings.instanceId, this.settings.leaseSeconds)).size + 1;
    this.lastRenewed = Date.now();
    this.log.info(
      {
        instance: this.settings.instanceId,
        sources: this.sources.length,
        liveInstances: this.live,
        leaseSeconds: this.settings.leaseSeconds,
      },
      'fleet: joined',
    );
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    // Another instance released a source or left: an instance below its share takes it now
    // rather than at the next tick. The others keep their pace (one hand-over per tick).
    this.store.onChange(() => {
      if (this.belowShare) this.wake?.();
    });
    await sleep(this.settings.renewSeconds * 1000, signal);
    while (!signal.aborted) {
      await this.round();
      await this.pause(signal);
    }
  }

  /** Waits for the next round: `renewSeconds`, or less when woken (rounds stay serial). */
  private async pause(signal: AbortSignal): Promise<void> {
    const tick = new AbortController();
    const abort = () => tick.abort();
    signal.addEventListener('abort', abort, { once: true });
    this.wake = abort;
    try {
      await sleep(this.settings.renewSeconds * 1000, tick.signal);
    } finally {
      this.wake = undefined;
      signal.removeEventListener('abort', abort);
    }
  }

  /** One renewal round; never throws. */
  private async round(): Promise<void> {
    const me = this.settings.instanceId;
    try {
      // The lock only speeds up the others' fail-over: its trouble must not hold up renewals.
      await this.store
        .holdInstanceLock(me)
        .catch((err: unknown) => this.log.debug({ err }, 'fleet: instance lock not held'));
      const others = await this.store.heartbeat(me, this.settings.leaseSeconds);
      this.live = others.size + 1;
      const renewed = await this.store.renew(
        me,
        [...this.held.values()],
        this.settings.leaseSeconds,
      );
      this.lastRenewed = Date.now();
      this.metrics.fleetRenewals.inc({ result: 'ok' });
      for (const [k, h] of this.held)
        if (!renewed.has(k)) this.lose(h, 'another instance holds it now');
      if (this.closed) return;
      // Shares differ by one at most: each holds floor or ceil of sources / instances.
      const ceil = Math.ceil(this.sources.length / this.live);
      const floor = Math.floor(this.sources.length / this.live);
      const starving = Math.min(...others.values()) < floor;
      this.belowShare = this.held.size < ceil;
      if (this.held.size < ceil) await this.takeUpTo(ceil);
      else if (this.held.size > ceil || (this.held.size > floor && starving)) this.handOverOne();
    } catch (err: unknown) {
      this.metrics.fleetRenewals.inc({ result: 'error' });
      const now = Date.now();
      if (now - this.lastErrorLog > 60_000) {
        this.lastErrorLog = now;
        this.log.warn({ err }, 'fleet: could not renew the leases in the destination');
      }
      // Past the lease, another instance may own them: stop writing before it can start.
      if (now - this.lastRenewed > this.settings.leaseSeconds * 1000) {
        for (const h of [...this.held.values()]) this.lose(h, 'not renewed within the lease');
      }
    }
    this.metrics.fleetSourcesOwned.set({ instance: me }, this.held.size);
  }

  private async takeUpTo(share: number): Promise<void> {
    const candidates = this.sources.filter(
      (s) => !this.held.has(sourceKey(s)) && !this.stopping.has(sourceKey(s)),
    );
    const me = this.settings.instanceId;
    const lease = this.settings.leaseSeconds;
    // A dead owner's sources at once (fail-over); free ones a few per round (start, join).
    const taken = await this.store.take(me, candidates, share - this.held.size, lease, 'expired');
    const room = Math.min(share - this.held.size - taken.length, this.settings.takePerRound);
    const expired = taken.length;
    taken.push(...(await this.store.take(me, candidates, room, lease, 'free')));
    if (taken.length > 0) {
      this.log.info(
        { expired, free: taken.length - expired, held: this.held.size, share },
        'fleet: round took leases',
      );
    }
    for (const t of taken) {
      this.held.set(sourceKey(t), { ...t, takenAt: Date.now() });
      this.metrics.fleetTakeovers.inc();
      this.log.info(
        { database: t.database, sid: t.sid, epoch: t.epoch },
        'fleet: lease taken; streaming this source',
      );
      try {
        await this.members.start(t, { owner: this.settings.instanceId, epoch: t.epoch });
      } catch (err: unknown) {
        // Not started: give it back for another instance (or the next round) to take.
        this.log.error(
          { err, database: t.database, sid: t.sid },
          'fleet: could not start a source',
        );
        this.held.delete(sourceKey(t));
        await this.store.release(this.settings.instanceId, t).catch(() => undefined);
      }
    }
  }

  /**
   * Above the share: the source held longest goes back, flushed first. Not the
   * newest: that one may have just moved (its instance left), and moving it
   * again at once would pause it twice in a row.
   */
  private handOverOne(): void {
    if (this.stopping.size > 0) return; // one at a time
    const oldest = [...this.held.values()].sort((a, b) => a.takenAt - b.takenAt)[0];
    if (oldest) void this.handOver(oldest);
  }

  private handOver(h: Held): Promise<void> {
    const k = sourceKey(h);
    // A hand-over waits for the source's flush: one that drags on holds up the
    // next (one at a time), so it is said rather than left silent.
    const slowMs = this.settings.leaseSeconds * 1000;
    const slow = setTimeout(
      () =>
        this.log.warn(
          { database: h.database, sid: h.sid, afterMs: slowMs },
          'fleet: a hand-over is still flushing its source; no other source moves until it ends',
        ),
      slowMs,
    );
    slow.unref();
    const done = (async () => {
      try {
        await this.members.stop(h);
        if (this.held.get(k) === h) {
          this.held.delete(k);
          await this.store.release(this.settings.instanceId, h);
          this.log.info(
            { database: h.database, sid: h.sid, epoch: h.epoch },
            'fleet: source handed over (flushed, acknowledged, lease released)',
          );
        }
      } catch (err: unknown) {
        this.log.warn({ err, database: h.database, sid: h.sid }, 'fleet: hand-over failed');
      } finally {
        clearTimeout(slow);
        this.stopping.delete(k);
      }
    })();
    this.stopping.set(k, done);
    return done;
  }

  private lose(h: Held, why: string): void {
    const k = sourceKey(h);
    if (this.held.get(k) !== h) return;
    this.held.delete(k);
    this.metrics.fleetLeasesLost.inc();
    this.log.warn(
      { database: h.database, sid: h.sid, epoch: h.epoch, why },
      'fleet: lease lost; this instance stops the source and writes nothing more of it',
    );
    const prior = this.stopping.get(k) ?? Promise.resolve();
    const done = prior
      .then(() => this.members.stop(h))
      .catch((err: unknown) =>
        this.log.warn(
          { err, database: h.database, sid: h.sid },
          'fleet: stopping a lost source failed',
        ),
      )
      .finally(() => {
        if (this.stopping.get(k) === done) this.stopping.delete(k);
      });
    this.stopping.set(k, done);
  }

  /** The source's writes were fenced off (it found out before the next round did). */
  lost(source: SourceKey): void {
    const h = this.held.get(sourceKey(source));
    if (h) this.lose(h, 'a write was fenced off');
  }

  /**
   * Clean shutdown: every held source is flushed, acknowledged and its lease
   * released, so the other instances take them at once; then this instance
   * leaves. Sources not flushed keep their lease until it expires.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.controller.abort();
    await this.loop;
    await Promise.all(
      [...this.held.values()]
        .filter((h) => !this.stopping.has(sourceKey(h)))
        .map((h) => this.handOver(h)),
    );
    await Promise.all([...this.stopping.values()]);
    await this.store.leave(this.settings.instanceId).catch(() => undefined);
    await this.store.dropInstanceLock();
    this.metrics.fleetSourcesOwned.set({ instance: this.settings.instanceId }, 0);
  }
}
