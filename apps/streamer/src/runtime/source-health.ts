import { formatLsn, messageOf, parseLsn, redactPasswords } from '@kuvasz/core';
import { slotsHealth } from '@kuvasz/replication';
import pg from 'pg';
import type { Logger } from 'pino';
import type { SourceHealth } from './status-store.js';

/** A source as the health monitor sees it. */
export interface HealthTarget {
  /** `database (sid N)`, for logs. */
  label: string;
  url: string;
  slot: string;
}

/** How long failures of one server stay quiet in the log after one was logged. */
const FAILURE_LOG_EVERY_MS = 60_000;

/**
 * Retained WAL past which an idle slot gets a heartbeat (a logical message
 * in its database), if its confirmed position did not move since the last
 * look: a busy server's other databases make WAL that the slot's walsender
 * passes with keepalives, which the stream acknowledges; only a slot that
 * still does not advance needs WAL of its own database.
 */
const HEARTBEAT_RETAINED_BYTES = 64n * 1024n * 1024n;

interface Server {
  key: string;
  /** One pooled connection, to the first source's database: slots are server-wide. */
  pool: pg.Pool;
  targets: HealthTarget[];
  failedAt: number | undefined;
}

/**
 * The slots' health for the status and the metrics, one query per source
 * server over one pooled connection (not one connection per database and
 * look: with 200 tenant databases on one server that was 200 connections
 * and authentications every 10 s). Failures are logged, at most once a
 * minute per server, and returned with the health so that the status shows
 * them. Slots that pin WAL without advancing get a heartbeat over a
 * connection to their database opened for it and closed.
 */
export class HealthMonitor {
  private readonly servers = new Map<string, Server>();
  private readonly lastConfirmed = new Map<string, string | null>();

  constructor(
    targets: HealthTarget[],
    private readonly log: Logger,
  ) {
    for (const t of targets) {
      const key = serverKey(t.url);
      let s = this.servers.get(key);
      if (!s) {
        const pool = new pg.Pool({
          connectionString: t.url,
          max: 1,
          idleTimeoutMillis: 0,
          connectionTimeoutMillis: 10_000,
          application_name: 'kuvasz-streamer health',
        });
        pool.on('error', () => {});
        s = { key, pool, targets: [], failedAt: undefined };
        this.servers.set(key, s);
      }
      s.targets.push(t);
    }
  }

  /** Health per slot; a server that did not answer gives its slots `error`. */
  async poll(): Promise<Map<string, SourceHealth>> {
    const out = new Map<string, SourceHealth>();
    await Promise.all([...this.servers.values()].map((s) => this.pollServer(s, out)));
    return out;
  }

  private async pollServer(s: Server, out: Map<string, SourceHealth>): Promise<void> {
    try {
      const client = await s.pool.connect();
      let health: Awaited<ReturnType<typeof slotsHealth>>;
      let current: bigint;
      try {
        health = await slotsHealth(
          client,
          s.targets.map((t) => t.slot),
        );
        const res = await client.query<{ lsn: string }>(
          'SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn',
        );
        current = parseLsn(res.rows[0]!.lsn);
      } catch (e) {
        client.release(true);
        throw e;
      }
      client.release();
      s.failedAt = undefined;
      for (const t of s.targets) {
        const h = health.get(t.slot);
        const confirmed =
          h?.confirmedFlushLsn === null || h?.confirmedFlushLsn === undefined
            ? null
            : formatLsn(h.confirmedFlushLsn);
        const lag = h?.confirmedFlushLsn;
        out.set(t.slot, {
          lagBytes: lag === null || lag === undefined ? null : current > lag ? current - lag : 0n,
          retainedWalBytes: h?.retainedWalBytes ?? null,
          walStatus: h?.walStatus ?? null,
          confirmedFlushLsn: confirmed,
          error: null,
        });
        const still =
          this.lastConfirmed.has(t.slot) && this.lastConfirmed.get(t.slot) === confirmed;
        this.lastConfirmed.set(t.slot, confirmed);
        if (h?.exists && still && (h.retainedWalBytes ?? 0n) > HEARTBEAT_RETAINED_BYTES)
          void this.heartbeat(t);
      }
    } catch (e) {
      const error = redactPasswords(messageOf(e));
      const now = Date.now();
      if (s.failedAt === undefined || now - s.failedAt >= FAILURE_LOG_EVERY_MS) {
        s.failedAt = now;
        this.log.warn(
          { server: redactPasswords(s.key), sources: s.targets.map((t) => t.label), err: error },
          'cannot read the slots of a source server (retrying every poll; this is logged once a minute)',
        );
      }
      for (const t of s.targets)
        out.set(t.slot, {
          lagBytes: null,
          retainedWalBytes: null,
          walStatus: null,
          confirmedFlushLsn: null,
          error,
        });
    }
  }

  /** A logical message in the slot's database: WAL its walsender must pass, so the slot can advance. */
  private async heartbeat(t: HealthTarget): Promise<void> {
    const client = new pg.Client({
      connectionString: t.url,
      connectionTimeoutMillis: 10_000,
      application_name: 'kuvasz-heartbeat',
    });
    try {
      await client.connect();
      await client.query("SELECT pg_logical_emit_message(false, 'kuvasz_heartbeat', now()::text)");
      this.log.debug({ source: t.label, slot: t.slot }, 'heartbeat for an idle slot');
    } catch (e) {
      this.log.debug({ source: t.label, err: redactPasswords(messageOf(e)) }, 'heartbeat failed');
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.servers.values()].map((s) => s.pool.end().catch(() => undefined)));
  }
}

/** The server a URL points at, whatever its database: the URL without its path. */
export function serverKey(url: string): string {
  try {
    const u = new URL(url);
    u.pathname = '/';
    return u.toString();
  } catch {
    return url;
  }
}
