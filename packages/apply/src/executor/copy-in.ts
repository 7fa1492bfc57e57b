import pg from 'pg';

/**
 * `COPY ... FROM STDIN` (text format) of rows already in memory, through
 * `pg`'s custom query interface (`client.query(submittable)`): the whole
 * payload is written when the server asks for it, then CopyDone. Nothing is
 * written after the server reports an error (it ignores stray CopyData), so
 * an error mid-COPY leaves the connection usable and the transaction aborted
 * (to a savepoint, when there is one).
 */

/** The part of `pg`'s Connection this query uses (the same as pg-copy-streams does). */
interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

class CopyInQuery {
  private chunks: Buffer[];
  private rowCount = 0;
  private settled = false;
  readonly done: Promise<number>;
  private resolve!: (rows: number) => void;
  private reject!: (e: unknown) => void;

  constructor(
    readonly text: string,
    chunks: Buffer[],
  ) {
    this.chunks = chunks;
    this.done = new Promise<number>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
  }

  submit(connection: CopyConnection): void {
    connection.query(this.text);
  }

  handleCopyInResponse(connection: CopyConnection): void {
    const chunks = this.chunks;
    this.chunks = [];
    for (const c of chunks) connection.sendCopyFromChunk(c);
    connection.endCopyFrom();
  }

  handleCommandComplete(msg: { text?: string }): void {
    const m = /^COPY (\d+)/.exec(msg?.text ?? '');
    if (m) this.rowCount = Number(m[1]);
  }

  handleReadyForQuery(): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(this.rowCount);
  }

  handleError(err: unknown): void {
    this.chunks = [];
    if (this.settled) return;
    this.settled = true;
    this.reject(err);
  }

  // `pg` installs its query_timeout handling here; other messages cannot come for a COPY FROM.
  callback(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}

/** Runs `COPY ... FROM STDIN` with the given text-format chunks; resolves with the rows copied. */
export function copyIn(
  client: Pick<pg.ClientBase, 'query'>,
  text: string,
  chunks: Buffer[],
): Promise<number> {
  const q = new CopyInQuery(text, chunks);
  (client as unknown as { query(s: CopyInQuery): unknown }).query(q);
  return q.done;
}

/**
 * A simple-query message of several statements, some of them COPY FROM
 * STDIN, with every COPY's payload (and CopyDone) written right behind the
 * message, in order: the server reads each payload when it reaches its
 * COPY, so nothing waits for a CopyInResponse. If anything fails first, the
 * server ignores the copy messages that follow (outside COPY it accepts and
 * drops CopyData and CopyDone, per the protocol). Results come as `pg`'s
 * own query gives them: one per statement, COPYs included.
 */
/** `pg`'s Query as a base class of custom queries that keep its result handling (its typings do not export the class). */
export const PgQuery = pg.Query as unknown as new (
  text: string,
  values: undefined,
  callback: (err: Error | null, res: pg.QueryResult | pg.QueryResult[]) => void,
) => object;

class ScriptQuery extends PgQuery {
  constructor(
    text: string,
    private readonly payloads: Buffer[][],
    callback: (err: Error | null, res: pg.QueryResult | pg.QueryResult[]) => void,
  ) {
    super(text, undefined, callback);
  }

  submit(connection: CopyConnection): Error | undefined {
    const err = (
      pg.Query.prototype as unknown as { submit(c: CopyConnection): Error | undefined }
    ).submit.call(this, connection);
    if (err) return err;
    for (const chunks of this.payloads) {
      for (const c of chunks) connection.sendCopyFromChunk(c);
      connection.endCopyFrom();
    }
    return undefined;
  }

  // The payload is already on its way (see submit).
  handleCopyInResponse(): void {}
}

/** Runs `text` (statements, some of them COPY FROM STDIN, in the order of `payloads`) as one round trip. */
export function runScript(
  client: Pick<pg.ClientBase, 'query'>,
  text: string,
  payloads: Buffer[][],
): Promise<pg.QueryResult | pg.QueryResult[]> {
  return new Promise((resolve, reject) => {
    const q = new ScriptQuery(text, payloads, (err, res) => (err ? reject(err) : resolve(res)));
    (client as unknown as { query(s: object): unknown }).query(q);
  });
}
