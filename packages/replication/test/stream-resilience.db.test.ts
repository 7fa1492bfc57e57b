import net from 'node:net';
import { testedVersions, waitFor } from '@kuvasz/testkit';
import { useCluster } from '@kuvasz/testkit/vitest';
import pg from 'pg';
import { afterEach, describe, expect, test } from 'vitest';
import { kuvaszObjectName } from '../src/naming.js';
import { syncPublication } from '../src/publication.js';
import { createSlotWithSnapshot } from '../src/slots.js';
import { ReplicationStream } from '../src/stream/replication-stream.js';
import { confirmedFlush, currentWalLsn, nextPart, readTransactions } from './helpers.js';

/** A logger that keeps the `err` of each warning (the stream logs retried failures there). */
function warningLog() {
  const warnings: string[] = [];
  const log = {
    child: () => log,
    debug: () => {},
    info: () => {},
    error: () => {},
    warn: (obj: Record<string, unknown>) => {
      warnings.push(String(obj.err));
    },
  };
  return { warnings, log };
}

describe.each(testedVersions())('stream resilience on PostgreSQL %i', (version) => {
  void version;
  const pgc = useCluster({ version });
  const cleanup: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function setup(tag: string) {
    const cluster = pgc.get();
    const db = await cluster.createDatabase();
    const url = cluster.urlFor(db);
    await cluster.sql('CREATE TABLE t (id int PRIMARY KEY, v text)', [], db);
    const name = kuvaszObjectName(db, tag);
    await syncPublication(url, name, [{ schema: 'public', table: 't' }]);
    const created = await createSlotWithSnapshot({ connectionString: url, slot: name });
    await created.release();
    cleanup.push(() => cluster.dropSlots(db));
    return { cluster, db, url, name };
  }

  /** A started stream of an idle table, and another database of the same server to write to. */
  async function streamBesideBusyDatabase(tag: string) {
    const { cluster, url, name } = await setup(tag);
    const other = await cluster.createDatabase();
    await cluster.sql('CREATE TABLE busy (id int)', [], other);
    const stream = new ReplicationStream({ connectionString: url, slot: name, publication: name });
    cleanup.push(() => stream.close());
    await stream.start();
    return { cluster, name, other, stream };
  }

  async function killWalsender(cluster: ReturnType<typeof pgc.get>, slot: string): Promise<number> {
    const [row] = await cluster.sql<{ pid: number }>(
      'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1 AND active',
      [slot],
    );
    if (!row) throw new Error('slot not active');
    await cluster.sql('SELECT pg_terminate_backend($1)', [row.pid]);
    return row.pid;
  }

  test('a killed walsender is survived: unacked transactions come again, acked ones do not', async () => {
    const { cluster, db, url, name } = await setup('redeliver');
    const stream = new ReplicationStream({
      connectionString: url,
      slot: name,
      publication: name,
      statusIntervalMs: 200,
      reconnect: { initialMs: 50, maxMs: 500 },
    });
    cleanup.push(() => stream.close());
    await cluster.sql(`INSERT INTO t VALUES (1, 'a')`, [], db);
    const a = (await readTransactions(stream, 1))[0]![0]!;
    await waitFor(async () => (await confirmedFlush(cluster, name)) >= a.endLsn, {
      timeoutMs: 10_000,
    });

    await cluster.sql(`INSERT INTO t VALUES (2, 'b')`, [], db);
    const b = await nextPart(stream);
    expect(b.changes[0]?.kind === 'insert' && b.changes[0].new[0]).toBe('2');
    // Not acked: the walsender dies.
    const oldPid = await killWalsender(cluster, name);
    const again = await nextPart(stream);
    expect(again.commitLsn).toBe(b.commitLsn);
    expect(again.changes[0]?.kind === 'insert' && again.changes[0].new[0]).toBe('2');
    expect(stream.reconnects).toBeGreaterThanOrEqual(1);
    const [row] = await cluster.sql<{ pid: number }>(
      'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
      [name],
    );
    expect(row?.pid).not.toBe(oldPid);
    stream.ack(again.endLsn);
    await cluster.sql(`INSERT INTO t VALUES (3, 'c')`, [], db);
    const c = await nextPart(stream);
    expect(c.changes[0]?.kind === 'insert' && c.changes[0].new[0]).toBe('3');
    stream.ack(c.endLsn);
    await waitFor(async () => (await confirmedFlush(cluster, name)) >= c.endLsn, {
      timeoutMs: 10_000,
    });
  });

  test('a transaction cut off mid-way by a reconnect starts again at its first change', async () => {
    const { cluster, db, url, name } = await setup('midway');
    const stream = new ReplicationStream({
      connectionString: url,
      slot: name,
      publication: name,
      streaming: false,
      part: { maxChanges: 1000 },
      // While the consumer lags the socket is paused: a dead connection is
      // noticed by the next status update.
      statusIntervalMs: 300,
      reconnect: { initialMs: 50, maxMs: 500 },
    });
    cleanup.push(() => stream.close());
    await cluster.sql(`INSERT INTO t SELECT g, 'x' FROM generate_series(1, 3500) g`, [], db);
    const first = await nextPart(stream);
    expect(first).toMatchObject({ firstChangeIndex: 0, final: false });
    await killWalsender(cluster, name);
    await waitFor(() => stream.reconnects >= 1, { timeoutMs: 15_000 });
    const indexes: number[] = [];
    for (;;) {
      const p = await nextPart(stream);
      expect(p.commitLsn).toBe(first.commitLsn);
      indexes.push(p.firstChangeIndex);
      if (p.final) {
        stream.ack(p.endLsn);
        break;
      }
    }
    expect(indexes).toEqual([0, 1000, 2000, 3000]);
  });

  test('a server restart is survived', async () => {
    const { cluster, db, url, name } = await setup('restart');
    const stream = new ReplicationStream({
      connectionString: url,
      slot: name,
      publication: name,
      reconnect: { initialMs: 100, maxMs: 1000 },
    });
    cleanup.push(() => stream.close());
    await stream.start();
    await cluster.restart();
    await cluster.sql(`INSERT INTO t VALUES (1, 'after restart')`, [], db);
    const part = await nextPart(stream, 30_000);
    expect(part.changes[0]?.kind === 'insert' && part.changes[0].new).toEqual([
      '1',
      'after restart',
    ]);
    expect(stream.reconnects).toBeGreaterThanOrEqual(1);
    stream.ack(part.endLsn);
  });

  /**
   * A TCP proxy to the cluster that forwards the server's bytes message by
   * message; `corrupt()` puts a header with a length of 2 (no message has
   * one) before the next CopyData, as a broken middlebox might.
   */
  async function corruptingProxy(port: number) {
    let armed = false;
    const sockets: net.Socket[] = [];
    const server = net.createServer((client) => {
      const upstream = net.connect(port, '127.0.0.1');
      sockets.push(client, upstream);
      client.pipe(upstream);
      let pending = Buffer.alloc(0);
      upstream.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 5 && pending.length >= 1 + pending.readUInt32BE(1)) {
          const whole = pending.subarray(0, 1 + pending.readUInt32BE(1));
          pending = pending.subarray(whole.length);
          if (armed && whole[0] === 0x64) {
            armed = false;
            client.write(Buffer.from([0x64, 0, 0, 0, 2]));
          }
          client.write(whole);
        }
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(async () => {
      for (const x of sockets) x.destroy();
      await new Promise((r) => server.close(r));
    });
    return {
      port: (server.address() as net.AddressInfo).port,
      corrupt: () => {
        armed = true;
      },
    };
  }

  test('bytes that do not frame (a corrupt length) reconnect with a named error, losing nothing', async () => {
    const { cluster, db, url, name } = await setup('framing');
    const proxy = await corruptingProxy(cluster.port);
    const { warnings, log } = warningLog();
    const stream = new ReplicationStream({
      connectionString: url.replace(`:${cluster.port}/`, `:${proxy.port}/`),
      slot: name,
      publication: name,
      reconnect: { initialMs: 50, maxMs: 200 },
      logger: log,
    });
    cleanup.push(() => stream.close());
    await cluster.sql(`INSERT INTO t VALUES (1, 'before')`, [], db);
    const a = await nextPart(stream);
    stream.ack(a.endLsn);
    proxy.corrupt();
    await cluster.sql(`INSERT INTO t VALUES (2, 'after')`, [], db);
    const b = await nextPart(stream, 20_000);
    expect(b.changes[0]?.kind === 'insert' && b.changes[0].new).toEqual(['2', 'after']);
    expect(stream.reconnects).toBeGreaterThanOrEqual(1);
    const said = warnings.join('\n');
    expect(said).toContain('with length 2');
    expect(said).toContain('the replication stream is corrupt');
    expect(said).toContain(`:${proxy.port}/`);
    expect(said).not.toContain(cluster.password);
    stream.ack(b.endLsn);
    await waitFor(async () => (await confirmedFlush(cluster, name)) >= b.endLsn, {
      timeoutMs: 10_000,
    });
  });

  test('a slot busy in another process is retried until it is free', async () => {
    const { cluster, db, url, name } = await setup('busy');
    const first = new ReplicationStream({ connectionString: url, slot: name, publication: name });
    cleanup.push(() => first.close());
    await first.start();
    const { warnings, log } = warningLog();
    const second = new ReplicationStream({
      connectionString: url,
      slot: name,
      publication: name,
      reconnect: { initialMs: 50, maxMs: 200 },
      logger: log,
    });
    cleanup.push(() => second.close());
    const started = second.start();
    await waitFor(() => warnings.length >= 2, { timeoutMs: 10_000 });
    expect(warnings[0]).toContain('is in use by server process');
    expect(warnings.join('\n')).not.toContain(cluster.password);
    await first.close();
    await started;
    await cluster.sql(`INSERT INTO t VALUES (7, 'second')`, [], db);
    const part = await nextPart(second);
    expect(part.changes[0]?.kind === 'insert' && part.changes[0].new[0]).toBe('7');
  });

  test('an idle slot advances while another database of the server writes', async () => {
    const { cluster, name, other, stream } = await streamBesideBusyDatabase('idle');
    const before = await confirmedFlush(cluster, name);
    await cluster.sql('INSERT INTO busy SELECT generate_series(1, 1000)', [], other);
    const written = await currentWalLsn(cluster, other);
    expect(written).toBeGreaterThan(before);
    // Nothing was delivered to us, nothing is in flight: the keepalive's WAL end is confirmed.
    await waitFor(async () => (await confirmedFlush(cluster, name)) >= written, {
      timeoutMs: 20_000,
    });
    expect(stream.deliveredLsn).toBe(0n);
    expect(stream.flushedLsn).toBeGreaterThanOrEqual(written);
  });

  test('keepalives caused by other databases are answered by one coalesced update, not one each', async () => {
    const { cluster, name, other, stream } = await streamBesideBusyDatabase('coalesce');
    const keepalives = stream.stats.keepalives;
    const updates = stream.stats.statusUpdates;
    // Separate commits, each waking the WAL sender, which sends a keepalive once caught up.
    const c = new pg.Client({ connectionString: cluster.urlFor(other) });
    await c.connect();
    try {
      for (let i = 0; i < 60; i++) {
        await c.query('INSERT INTO busy VALUES ($1)', [i]);
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await c.end();
    }
    const written = await currentWalLsn(cluster, other);
    await waitFor(async () => (await confirmedFlush(cluster, name)) >= written, {
      timeoutMs: 20_000,
    });
    const received = stream.stats.keepalives - keepalives;
    const answered = stream.stats.statusUpdates - updates;
    expect(received).toBeGreaterThanOrEqual(10);
    // About one a second (the coalescing delay), where answering each would be one per keepalive.
    expect(answered).toBeLessThan(Math.min(received / 2, 8));
  });

  test('the heartbeat moves the slot of a database nobody writes to', async () => {
    const { cluster, url, name } = await setup('heartbeat');
    const stream = new ReplicationStream({
      connectionString: url,
      slot: name,
      publication: name,
      heartbeat: { intervalMs: 200, prefix: 'kuvasz_hb_test' },
    });
    cleanup.push(() => stream.close());
    await stream.start();
    const before = await confirmedFlush(cluster, name);
    await waitFor(async () => (await confirmedFlush(cluster, name)) > before, {
      timeoutMs: 20_000,
    });
    // Heartbeats are never delivered as transactions.
    expect(stream.stats.transactions).toBe(0);
  });

  test('unacknowledged transactions hold the slot back', async () => {
    const { cluster, db, url, name } = await setup('hold');
    const stream = new ReplicationStream({
      connectionString: url,
      slot: name,
      publication: name,
      statusIntervalMs: 100,
    });
    cleanup.push(() => stream.close());
    const before = await confirmedFlush(cluster, name);
    await cluster.sql(`INSERT INTO t VALUES (1, 'x')`, [], db);
    const part = await nextPart(stream);
    // Other databases write, keepalives come and status updates go out...
    const other = await cluster.createDatabase();
    await cluster.sql(
      'CREATE TABLE w (id int); INSERT INTO w SELECT generate_series(1, 100)',
      [],
      other,
    );
    const sent = stream.stats.statusUpdates;
    await waitFor(() => stream.stats.statusUpdates >= sent + 5, { timeoutMs: 10_000 });
    // ...but nothing was acknowledged: the slot stays where it was.
    expect(await confirmedFlush(cluster, name)).toBe(before);
    expect(stream.flushedLsn).toBe(before);
    stream.ack(part.endLsn);
    await waitFor(async () => (await confirmedFlush(cluster, name)) >= part.endLsn, {
      timeoutMs: 10_000,
    });
  });
});
