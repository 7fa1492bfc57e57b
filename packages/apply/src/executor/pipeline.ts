import type pg from 'pg';
import { PgQuery } from './copy-in.js';
import type { PreparedStatements } from './prepared-statements.js';

/**
 * Statements in one extended-protocol pipeline: for each, Parse (unnamed, or
 * named the first time a prepared statement is used on the connection),
 * Bind, Describe and Execute, then one Sync for all of them, written in one
 * go. Like a simple-query message of several statements, it is one round
 * trip that runs its statements in order and stops at the first error (the
 * server skips everything up to the Sync); unlike it, statements with
 * parameters can be prepared statements the server has planned already.
 */
export interface PipelineStatement {
  text: string;
  /** Parameters (text format): the statement is then a prepared statement, run by name. */
  values?: readonly unknown[] | undefined;
}

/** The part of `pg`'s Connection a pipeline writes with. */
interface PipelineConnection {
  stream: { cork?(): void; uncork?(): void };
  parse(m: { text: string; name: string; types?: number[] }): void;
  bind(m: {
    portal: string;
    statement: string;
    values: readonly unknown[];
    valueMapper: (v: unknown) => unknown;
  }): void;
  describe(m: { type: 'P' | 'S'; name: string }): void;
  execute(m: { portal: string; rows: number }): void;
  close(m: { type: 'P' | 'S'; name: string }): void;
  sync(): void;
}

const NO_VALUES: readonly unknown[] = [];
// Planner values are strings or null already; anything else goes as its text, as the simple form inlines it.
const asText = (v: unknown): unknown =>
  v === null || v === undefined || typeof v === 'string' ? (v ?? null) : String(v);

interface Planned {
  text: string;
  values: readonly unknown[];
  name: string;
  parse: boolean;
  close: boolean;
}

class PipelineQuery extends PgQuery {
  constructor(
    private readonly planned: Planned[],
    private readonly evicted: string[],
    callback: (err: Error | null, res: pg.QueryResult | pg.QueryResult[]) => void,
  ) {
    super(planned.map((p) => p.text).join('; '), undefined, callback);
  }

  submit(connection: PipelineConnection): Error | undefined {
    connection.stream.cork?.();
    try {
      for (const name of this.evicted) connection.close({ type: 'S', name });
      for (const p of this.planned) {
        if (p.close) connection.close({ type: 'S', name: p.name });
        if (p.parse) connection.parse({ text: p.text, name: p.name });
        connection.bind({ portal: '', statement: p.name, values: p.values, valueMapper: asText });
        connection.describe({ type: 'P', name: '' });
        connection.execute({ portal: '', rows: 0 });
      }
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return undefined;
  }

  // pg's Query answers a COPY it did not expect with CopyFail; a pipeline holds none.
  handleCopyInResponse(): void {}
}

/**
 * Runs `statements` as one pipeline on `client`; results as `pg` gives them
 * for a multi-statement query (one per statement). `prepared` names the
 * connection's statements (see prepared-statements.ts).
 */
export function runPipeline(
  client: Pick<pg.ClientBase, 'query'>,
  statements: readonly PipelineStatement[],
  prepared: PreparedStatements,
): Promise<pg.QueryResult | pg.QueryResult[]> {
  const planned: Planned[] = statements.map((s) =>
    s.values
      ? { text: s.text, values: s.values, ...prepared.use(s.text) }
      : { text: s.text, values: NO_VALUES, name: '', parse: true, close: false },
  );
  const evicted = prepared.takeEvicted();
  return new Promise((resolve, reject) => {
    const q = new PipelineQuery(planned, evicted, (err, res) => {
      if (err) {
        prepared.fail();
        reject(err);
      } else {
        prepared.confirm();
        resolve(res);
      }
    });
    (client as unknown as { query(s: object): unknown }).query(q);
  });
}
