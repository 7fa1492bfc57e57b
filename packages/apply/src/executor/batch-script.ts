import type pg from 'pg';
import type { CopyStatement } from '../planner/copy-rows.js';
import { inlineParams } from '../planner/sql-literal.js';
import { copyIn, runScript } from './copy-in.js';
import { runPipeline } from './pipeline.js';
import { preparedOf } from './prepared-statements.js';

type Client = Pick<pg.PoolClient, 'query'>;
type Rows = Record<string, unknown>[];

interface Part {
  text: string;
  /** Statements in `text`: each one answers with its own result. */
  count: number;
  /** `text`'s parameters (`$n`, each with its cast): run as a prepared statement where it can be. */
  values?: readonly unknown[] | undefined;
  onRows: ((rows: Rows) => void) | undefined;
  /** A `COPY ... FROM STDIN`'s payload, written right behind the message (see `addCopy`). */
  payload?: Buffer[];
}

/**
 * The statements of one destination transaction, sent in as few round trips
 * as their dependencies allow. A statement whose result nothing waits for
 * (BEGIN, SET LOCAL, a DELETE whose misses are only logged, COMMIT) is held
 * and travels with the next one that must be answered before the batch can
 * go on; its result is handed to its callback, in order, when that answer
 * comes. One simple-protocol message runs its statements in order and stops
 * at the first error, which the caller sees as the flush's rejection (the
 * transaction is then aborted and is rolled back, as before).
 */
export class BatchScript {
  private parts: Part[] = [];
  private heldChars = 0;
  /** Round trips so far: the crash-point hook runs between them. */
  trips = 0;

  constructor(private readonly client: Client) {}

  /** Holds `text` (of `count` statements); `onRows` gets the last statement's rows once it has run. */
  add<T extends Rows[number]>(text: string, count = 1, onRows?: (rows: T[]) => void): void {
    this.parts.push({ text, count, onRows: onRows as ((rows: Rows) => void) | undefined });
    this.heldChars += text.length;
  }

  /**
   * Holds one statement with parameters, run by name as a prepared
   * statement of this connection when the message it travels in can be a
   * pipeline (no COPY in it), with its parameters inlined otherwise.
   */
  addPrepared<T extends Rows[number]>(
    text: string,
    values: readonly unknown[],
    onRows?: (rows: T[]) => void,
  ): void {
    this.parts.push({
      text,
      values,
      count: 1,
      onRows: onRows as ((rows: Rows) => void) | undefined,
    });
    this.heldChars += text.length;
    for (const v of values) if (typeof v === 'string') this.heldChars += v.length;
  }

  /**
   * Sends what is held once it passes `limitChars`: PostgreSQL refuses a
   * message over 1 GB, and statements that would each fit must not add up
   * past it. True when it sent.
   */
  async flushIfOver(limitChars: number): Promise<boolean> {
    if (this.heldChars <= limitChars) return false;
    await this.flush();
    return true;
  }

  /**
   * Holds a COPY FROM STDIN whose answer nothing waits for: it travels in
   * the message with the statements around it, its payload written right
   * behind the message, so the server reads it when it reaches the COPY and
   * the whole message is one round trip that needs nothing more from us.
   * (A server that fails before the COPY ignores the payload, as the
   * protocol says.)
   */
  addCopy(st: CopyStatement): void {
    this.parts.push({ text: st.text, count: 1, onRows: undefined, payload: st.chunks });
    this.heldChars += st.text.length;
  }

  get pending(): boolean {
    return this.parts.length > 0;
  }

  /** Sends every held statement in one message and hands out the results. */
  async flush(): Promise<void> {
    const parts = this.take();
    if (parts.length === 0) return;
    const payloads = parts.flatMap((p) => (p.payload ? [p.payload] : []));
    // A pipeline when something in it is prepared and it needs nothing else: one statement per part, no COPY.
    const pipeline =
      payloads.length === 0 && parts.some((p) => p.values) && parts.every((p) => p.count === 1);
    const res = pipeline
      ? await runPipeline(
          this.client,
          parts.map((p) => ({ text: p.text, values: p.values })),
          preparedOf(this.client),
        )
      : payloads.length > 0
        ? await runScript(this.client, simpleText(parts), payloads)
        : ((await this.client.query(simpleText(parts))) as pg.QueryResult | pg.QueryResult[]);
    this.trips++;
    const results = Array.isArray(res) ? res : [res];
    let k = 0;
    for (const p of parts) {
      k += p.count;
      p.onRows?.((results[k - 1]?.rows ?? []) as Rows);
    }
  }

  /** Adds `text` and sends it with what is held: the rows of its last statement. */
  async run<T extends Rows[number]>(text: string, count = 1): Promise<T[]> {
    let rows: Rows = [];
    this.add(text, count, (r) => {
      rows = r;
    });
    await this.flush();
    return rows as T[];
  }

  /**
   * A COPY FROM STDIN. Held statements that nobody waits on travel in front
   * of it; held statements whose rows are awaited are sent first, since the
   * COPY exchange hands back no rows.
   */
  async copy(st: CopyStatement): Promise<void> {
    if (this.parts.some((p) => p.onRows || p.payload)) await this.flush();
    const prefix = this.take().map(simpleStatement);
    await copyIn(this.client, [...prefix, st.text].join('; '), st.chunks);
    this.trips++;
  }

  private take(): Part[] {
    const parts = this.parts;
    this.parts = [];
    this.heldChars = 0;
    return parts;
  }
}

/** A part as simple-query text: its parameters inlined. */
const simpleStatement = (p: Part): string => (p.values ? inlineParams(p.text, p.values) : p.text);

const simpleText = (parts: Part[]): string => parts.map(simpleStatement).join('; ');
