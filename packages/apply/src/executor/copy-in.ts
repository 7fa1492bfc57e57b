import type pg from 'pg';

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
