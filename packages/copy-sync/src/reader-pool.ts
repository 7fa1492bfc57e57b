import net from 'node:net';
import { type Logger, messageOf, redactPasswords } from '@kuvasz/core';
import pg from 'pg';
import { CopySyncError } from './errors.js';
import { literal } from './sql.js';

/** One source connection inside a REPEATABLE READ transaction on the imported snapshot. */
export interface Reader {
  readonly id: number;
  readonly client: pg.Client;
  /** Source server major version. */
  readonly major: number;
}

interface Waiter {
  resolve(r: Reader): void;
  reject(e: unknown): void;
}

/**
 * The source side: `size` connections that all import the snapshot before
 * `open` resolves, then are lent out one at a time (FIFO, so tables sharing
 * the readers take turns). A reader whose transaction broke is closed and not
 * lent again; the pool fails its waiters when none is left.
 */
export class ReaderPool {
  private readonly idle: Reader[] = [];
  private readonly waiters: Waiter[] = [];
  private alive: number;
  private lastError: unknown;
  private closed = false;

  private constructor(
    private readonly readers: Reader[],
    /** `transaction_timestamp()` of the first reader, just after the import. */
    readonly snapshotTime: Date,
    private readonly logger: Logger,
  ) {
    this.idle.push(...readers);
    this.alive = readers.length;
  }

  get major(): number {
    return this.readers[0]?.major ?? 0;
  }

  static async open(opts: {
    connectionString: string;
    size: number;
    snapshotName: string;
    logger: Logger;
  }): Promise<ReaderPool> {
    const clients: pg.Client[] = [];
    try {
      const readers = await Promise.all(
        Array.from({ length: opts.size }, async (_, id) => {
          const client = new pg.Client({
            connectionString: opts.connectionString,
            application_name: 'kuvasz-copy-sync',
          });
          clients.push(client);
          // A broken socket must not become an unhandled 'error' event; the
          // query in flight rejects and the reader is dropped.
          client.on('error', (e) =>
            opts.logger.warn({ err: e, reader: id }, 'source reader connection error'),
          );
          await client.connect();
          await client.query(
            'SET idle_in_transaction_session_timeout = 0; SET statement_timeout = 0; SET lock_timeout = 0',
          );
          await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
          await client.query(`SET TRANSACTION SNAPSHOT ${literal(opts.snapshotName)}`);
          const info = await client.query<{ v: string; ts: Date }>(
            `SELECT current_setting('server_version_num') AS v, transaction_timestamp() AS ts`,
          );
          const row = info.rows[0];
          return {
            id,
            client,
            major: Math.floor(Number(row?.v) / 10000),
            ts: row?.ts ?? new Date(),
          };
        }),
      );
      const first = readers[0];
      return new ReaderPool(
        readers.map(({ id, client, major }) => ({ id, client, major })),
        first?.ts ?? new Date(),
        opts.logger,
      );
    } catch (e: unknown) {
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
      throw new CopySyncError(
        'snapshot_import_failed',
        `cannot import snapshot ${opts.snapshotName} on the source ${redactPasswords(opts.connectionString)}: ${messageOf(e)}; the connection that exported it must stay open and idle until onSnapshotImported fires`,
        { cause: e },
      );
    }
  }

  acquire(): Promise<Reader> {
    if (this.closed) return Promise.reject(this.exhausted());
    const r = this.idle.shift();
    if (r) return Promise.resolve(r);
    if (this.alive === 0) return Promise.reject(this.exhausted());
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Returns a reader; `broken` closes it for good (its snapshot transaction is gone). */
  release(reader: Reader, broken?: unknown): void {
    if (broken !== undefined) {
      this.alive--;
      this.lastError = broken;
      this.logger.warn({ reader: reader.id, err: broken }, 'source reader dropped');
      reader.client.end().catch(() => {});
      if (this.alive === 0) {
        for (const w of this.waiters.splice(0)) w.reject(this.exhausted());
      }
      return;
    }
    const w = this.waiters.shift();
    if (w) w.resolve(reader);
    else this.idle.push(reader);
  }

  private exhausted(): CopySyncError {
    return new CopySyncError(
      'copy_failed',
      this.closed
        ? 'the source readers are closed'
        : `every source reader connection failed; last error: ${messageOf(this.lastError)}`,
      { cause: this.lastError },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(this.exhausted());
    await Promise.all(
      this.readers.map(async (r) => {
        try {
          await r.client.query('ROLLBACK');
        } catch {
          // ended or broken: nothing to roll back
        }
        await r.client.end().catch(() => {});
      }),
    );
  }
}

/**
 * Sends a protocol CancelRequest for the query running on `client` (what
 * libpq's PQcancel does), so an abandoned COPY TO stops on the server instead
 * of streaming to nobody.
 */
export function cancelQuery(client: pg.Client): Promise<void> {
  const c = client as pg.Client & { processID?: number | null; secretKey?: number | null };
  const pid = c.processID;
  const secret = c.secretKey;
  if (typeof pid !== 'number' || typeof secret !== 'number') return Promise.resolve();
  return new Promise((resolve) => {
    const host = client.host;
    const socket = host?.startsWith('/')
      ? net.connect(`${host}/.s.PGSQL.${client.port}`)
      : net.connect(client.port, host || 'localhost');
    const msg = Buffer.alloc(16);
    msg.writeInt32BE(16, 0);
    msg.writeInt32BE(80877102, 4);
    msg.writeInt32BE(pid, 8);
    msg.writeInt32BE(secret, 12);
    socket.on('connect', () => socket.end(msg));
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
}
