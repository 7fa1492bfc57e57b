import type pg from 'pg';

/**
 * `COPY ... FROM STDIN` (text format) of rows already in memory, through
 * `pg`'s custom query interface (`client.query(submittable)`): the whole
 * payload is written when the server asks for it, then CopyDone. Nothing is
 * written after the server reports an error (it ignores stray CopyData), so
 * an error mid-COPY leaves the connection usable and the transaction aborted
 * (to a savepoint, when there is one).
 */

/** Rows of a COPY text payload, assembled into chunks of about this many characters. */
const CHUNK_CHARS = 64 * 1024;
const SPECIAL = /[\\\t\n\r]/;
const SPECIAL_ALL = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * One value in COPY text format: backslash, tab, newline and carriage return
 * escaped (nothing else is special in text format with the default
 * delimiter); NULL is written by the caller as `\N`.
 */
export function copyEscape(v: string): string {
  return SPECIAL.test(v) ? v.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : v;
}

/** Builds a COPY text payload row by row, in chunks (rows never cross a chunk, which COPY does not need anyway). */
export class CopyPayload {
  readonly chunks: Buffer[] = [];
  rows = 0;
  private current = '';

  /** Appends one row; `null` is NULL. Values are PostgreSQL text. */
  row(values: readonly (string | null)[]): void {
    let line = '';
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (i > 0) line += '\t';
      line += v === null || v === undefined ? '\\N' : copyEscape(v);
    }
    this.current += `${line}\n`;
    this.rows++;
    if (this.current.length >= CHUNK_CHARS) this.cut();
  }

  private cut(): void {
    if (this.current.length === 0) return;
    this.chunks.push(Buffer.from(this.current, 'utf8'));
    this.current = '';
  }

  /** The payload's chunks; the builder is empty afterwards. */
  take(): Buffer[] {
    this.cut();
    const out = this.chunks.splice(0);
    this.rows = 0;
    return out;
  }
}

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
