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

export const leaseKey = (s: SourceKey): string => `${s.database}\u0000${s.sid}`;

/**
 * The fleet's bookkeeping in the destination's metadata schema (migration 7
 * of @kuvasz/core): one lease row per source, one row per live instance.
 * Only the destination's clock is used (`now()`), never the instances'.
 */
export class LeaseStore {
  private readonly leases: string;
  private readonly instances: string;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
  ) {
    this.leases = `${quoteIdent(schema)}.source_leases`;
    this.instances = `${quoteIdent(schema)}.fleet_instances`;
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

  /** Records this instance as live; returns how many instances are live (seen within the lease). */
  async heartbeat(instance: string, leaseSeconds: number): Promise<number> {
    const res = await this.pool.query<{ live: number }>(
      `WITH me AS (
         INSERT INTO ${this.instances} (instance_id) VALUES ($1)
         ON CONFLICT (instance_id) DO UPDATE SET seen_at = now())
       SELECT 1 + count(*)::int AS live FROM ${this.instances}
        WHERE instance_id <> $1 AND seen_at > now() - make_interval(secs => $2)`,
      [instance, leaseSeconds],
    );
    return res.rows[0]?.live ?? 1;
  }

  /** Extends the leases still held at their epochs; returns the ones renewed (the others were lost). */
  async renew(instance: string, held: HeldLease[], leaseSeconds: number): Promise<Set<string>> {
    if (held.length === 0) return new Set();
    const res = await this.pool.query<{ d: string; s: string }>(
      `UPDATE ${this.leases} l SET expires_at = now() + make_interval(secs => $2)
         FROM unnest($3::text[], $4::text[], $5::bigint[]) AS h(d, s, e)
        WHERE l.source_database = h.d AND l.sid = h.s AND l.epoch = h.e AND l.owner = $1
       RETURNING l.source_database AS d, l.sid AS s`,
      [
        instance,
        leaseSeconds,
        held.map((h) => h.database),
        held.map((h) => h.sid),
        held.map((h) => h.epoch),
      ],
    );
    return new Set(res.rows.map((r) => leaseKey({ database: r.d, sid: r.s })));
  }

  /**
   * Takes up to `limit` of `candidates` that are free or expired, each at a
   * new epoch. Rows locked by a write in flight (the fence's FOR SHARE) or by
   * another taker are skipped, never waited for.
   */
  async take(
    instance: string,
    candidates: SourceKey[],
    limit: number,
    leaseSeconds: number,
  ): Promise<HeldLease[]> {
    if (candidates.length === 0 || limit <= 0) return [];
    const res = await this.pool.query<{ d: string; s: string; e: string }>(
      `UPDATE ${this.leases} l
          SET owner = $1, epoch = l.epoch + 1, expires_at = now() + make_interval(secs => $2), taken_at = now()
         FROM (SELECT source_database, sid FROM ${this.leases}
                WHERE (source_database, sid) IN (SELECT * FROM unnest($3::text[], $4::text[]))
                  AND (owner IS NULL OR expires_at < now())
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

  /** Gives a lease back at once (after its source was flushed and acknowledged); false if it was lost meanwhile. */
  async release(instance: string, lease: HeldLease): Promise<boolean> {
    const res = await this.pool.query(
      `UPDATE ${this.leases} SET owner = NULL, expires_at = NULL
        WHERE source_database = $1 AND sid = $2 AND owner = $3 AND epoch = $4`,
      [lease.database, lease.sid, instance, lease.epoch],
    );
    return (res.rowCount ?? 0) > 0;
  }

  /** This instance leaves the fleet (clean shutdown): the others' share grows at once. */
  async leave(instance: string): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.instances} WHERE instance_id = $1`, [instance]);
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
