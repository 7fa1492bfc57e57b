import { quoteIdent } from '@kuvasz/core';
import type pg from 'pg';

/** A source as the fleet names it. */
export interface SourceKey {
  database: string;
  sid: string;
}

/** A lease this instance holds: the source and the epoch it was taken at. */
export interface HeldLease extends SourceKey {
  epoch: number;
}

/** A lease row as every instance sees it (status). */
export interface LeaseRow extends HeldLease {
  owner: string | null;
  expiresAt: Date | null;
  /** Expired by the destination's clock (its owner stopped renewing). */
  expired: boolean;
}

/** One source as a map key (database and sid cannot hold a NUL). */
export const sourceKey = (s: SourceKey): string => `${s.database}\u0000${s.sid}`;

/**
 * First key of every instance's session advisory lock (the second is
 * hashtext(instance_id)): held for the life of the process on a connection
 * of its own, so a crashed instance is seen as gone at once, not only when
 * its leases expire. A collision only delays that to the expiry.
 */
const INSTANCE_LOCK = 0x6b76;

/** An instance is alive while its advisory lock is held (its session lives). */
const lockHeld = (idExpr: string) =>
  `EXISTS (SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND k.granted
             AND k.classid = ${INSTANCE_LOCK} AND k.objid = hashtext(${idExpr})::oid AND k.objsubid = 2)`;

/**
 * The fleet's bookkeeping in the destination's metadata schema (migration 7
 * of @kuvasz/core): one lease row per source, one row per live instance.
 * Only the destination's clock is used (`now()`), never the instances'.
 */
export class LeaseStore {
  private readonly leases: string;
  private readonly instances: string;
  private lockClient: pg.Client | undefined;
  /** The lock is held on `lockClient` (false while an earlier session of this instance holds it). */
  private locked = false;
  /** NOTIFY channel of this metadata schema's fleet, listened to on the lock's connection. */
  private readonly channel: string;
  private changeListener: (() => void) | undefined;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
    /** Opens the connection that holds the instance's lock (`holdInstanceLock`). */
    private readonly connect?: () => Promise<pg.Client>,
  ) {
    this.leases = `${quoteIdent(schema)}.source_leases`;
    this.instances = `${quoteIdent(schema)}.fleet_instances`;
    this.channel = `kuvasz_fleet_${schema}`;
  }

  /** Called when another instance released a lease or left: a round now finds it at once. */
  onChange(listener: () => void): void {
    this.changeListener = listener;
  }

  /** A lease row for every configured source (free until someone takes it). */
  async ensure(sources: SourceKey[]): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.leases} (source_database, sid)
       SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (source_database, sid) DO NOTHING`,
      [sources.map((s) => s.database), sources.map((s) => s.sid)],
    );
  }

  /**
   * Records this instance as live; returns the other live instances (seen
   * within the lease) with how many unexpired leases each holds.
   */
  async heartbeat(instance: string, leaseSeconds: number): Promise<Map<string, number>> {
    const res = await this.pool.query<{ id: string; held: number }>(
      `WITH me AS (
         INSERT INTO ${this.instances} (instance_id) VALUES ($1)
         ON CONFLICT (instance_id) DO UPDATE SET seen_at = now())
       SELECT i.instance_id AS id,
              (SELECT count(*)::int FROM ${this.leases} l
                WHERE l.owner = i.instance_id AND l.expires_at > now()) AS held
         FROM ${this.instances} i
        WHERE i.instance_id <> $1 AND i.seen_at > now() - make_interval(secs => $2)
          AND ${lockHeld('i.instance_id')}`,
      [instance, leaseSeconds],
    );
    return new Map(res.rows.map((r) => [r.id, r.held]));
  }

  /** Extends the leases still held at their epochs; returns the ones renewed (the others were lost). */
  async renew(instance: string, held: HeldLease[], leaseSeconds: number): Promise<Set<string>> {
    if (held.length === 0) return new Set();
    // Rows locked in (database, sid) byte order, the order in which a shared apply
    // transaction checks its sources' leases: the two never deadlock.
    const res = await this.pool.query<{ d: string; s: string }>(
      `WITH mine AS (
         SELECT l.source_database, l.sid FROM ${this.leases} l
           JOIN unnest($3::text[], $4::text[], $5::bigint[]) AS h(d, s, e)
             ON l.source_database = h.d AND l.sid = h.s AND l.epoch = h.e
          WHERE l.owner = $1
          ORDER BY l.source_database COLLATE "C", l.sid COLLATE "C"
          FOR UPDATE OF l)
       UPDATE ${this.leases} l SET expires_at = now() + make_interval(secs => $2)
         FROM mine WHERE l.source_database = mine.source_database AND l.sid = mine.sid
       RETURNING l.source_database AS d, l.sid AS s`,
      [
        instance,
        leaseSeconds,
        held.map((h) => h.database),
        held.map((h) => h.sid),
        held.map((h) => h.epoch),
      ],
    );
    return new Set(res.rows.map((r) => sourceKey({ database: r.d, sid: r.s })));
  }

  /**
   * Takes up to `limit` of `candidates` that are free (released, never
   * taken) or expired (their owner stopped renewing, or its session and
   * advisory lock are gone: it crashed), each at a new epoch. Rows locked by
   * a write in flight (the fence's FOR SHARE) or by another taker are
   * skipped, never waited for.
   */
  async take(
    instance: string,
    candidates: SourceKey[],
    limit: number,
    leaseSeconds: number,
    which: 'free' | 'expired',
  ): Promise<HeldLease[]> {
    if (candidates.length === 0 || limit <= 0) return [];
    const res = await this.pool.query<{ d: string; s: string; e: string }>(
      `UPDATE ${this.leases} l
          SET owner = $1, epoch = l.epoch + 1, expires_at = now() + make_interval(secs => $2), taken_at = now()
         FROM (SELECT source_database, sid FROM ${this.leases}
                WHERE (source_database, sid) IN (SELECT * FROM unnest($3::text[], $4::text[]))
                  AND ${which === 'free' ? 'owner IS NULL' : `owner IS NOT NULL AND owner <> $1 AND (expires_at < now() OR NOT ${lockHeld('owner')})`}
                ORDER BY random() LIMIT $5
                FOR UPDATE SKIP LOCKED) AS f
        WHERE l.source_database = f.source_database AND l.sid = f.sid
       RETURNING l.source_database AS d, l.sid AS s, l.epoch::text AS e`,
      [
        instance,
        leaseSeconds,
        candidates.map((c) => c.database),
        candidates.map((c) => c.sid),
        limit,
      ],
    );
    return res.rows.map((r) => ({ database: r.d, sid: r.s, epoch: Number(r.e) }));
  }

  /**
   * Takes this instance's advisory lock on a connection of its own, for as
   * long as the process lives (`dropInstanceLock` on a clean stop). Called
   * again each round: it reconnects when that connection was lost, and
   * tries the lock again while a session of this instance from before that
   * loss (not yet ended by the server) still holds it. Never waits for the
   * lock: a wait here would hold up the round, and with it the renewals.
   */
  async holdInstanceLock(instance: string): Promise<void> {
    if (!this.connect) return;
    if (!this.lockClient) {
      const client = await this.connect();
      const forget = () => {
        if (this.lockClient === client) this.lockClient = undefined;
      };
      client.on('error', forget);
      client.on('end', forget);
      client.on('notification', (n) => {
        if (n.channel === this.channel && n.payload !== instance) this.changeListener?.();
      });
      try {
        await client.query(`LISTEN ${quoteIdent(this.channel)}`);
      } catch (err: unknown) {
        await client.end().catch(() => undefined);
        throw err;
      }
      this.lockClient = client;
      this.locked = false;
    }
    const client = this.lockClient;
    if (this.locked || !client) return;
    const res = await client.query<{ ok: boolean }>(
      `SELECT pg_try_advisory_lock(${INSTANCE_LOCK}, hashtext($1)) AS ok`,
      [instance],
    );
    this.locked = res.rows[0]?.ok === true;
  }

  async dropInstanceLock(): Promise<void> {
    const c = this.lockClient;
    this.lockClient = undefined;
    await c?.end().catch(() => undefined);
  }

  /** Gives a lease back at once (after its source was flushed and acknowledged); false if it was lost meanwhile. */
  async release(instance: string, lease: HeldLease): Promise<boolean> {
    const res = await this.pool.query(
      `WITH freed AS (
         UPDATE ${this.leases} SET owner = NULL, expires_at = NULL
          WHERE source_database = $1 AND sid = $2 AND owner = $3 AND epoch = $4
         RETURNING 1)
       SELECT pg_notify($5, $3) FROM freed`,
      [lease.database, lease.sid, instance, lease.epoch, this.channel],
    );
    return (res.rowCount ?? 0) > 0;
  }

  /** This instance leaves the fleet (clean shutdown): the others' share grows at once. */
  async leave(instance: string): Promise<void> {
    await this.pool.query(
      `WITH gone AS (DELETE FROM ${this.instances} WHERE instance_id = $1 RETURNING 1)
       SELECT pg_notify($2, $1) FROM gone`,
      [instance, this.channel],
    );
  }

  async list(): Promise<LeaseRow[]> {
    const res = await this.pool.query<{
      d: string;
      s: string;
      owner: string | null;
      e: string;
      expires_at: Date | null;
      expired: boolean;
    }>(
      `SELECT source_database AS d, sid AS s, owner, epoch::text AS e, expires_at,
              coalesce(expires_at < now(), false) AS expired
         FROM ${this.leases}`,
    );
    return res.rows.map((r) => ({
      database: r.d,
      sid: r.s,
      owner: r.owner,
      epoch: Number(r.e),
      expiresAt: r.expires_at,
      expired: r.expired,
    }));
  }
}
