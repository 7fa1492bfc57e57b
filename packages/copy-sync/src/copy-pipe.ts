import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { CopySide } from './errors.js';
import type { RowRateLimit } from './rate-limit.js';
import { cancelQuery } from './reader-pool.js';
import type { RowTransform } from './row-transform.js';

/** Why a pipe failed, and which side's error it was. */
export class PipeFailure extends Error {
  override name = 'PipeFailure';
  constructor(
    readonly side: CopySide | 'abort',
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

const NEWLINE = 0x0a;

/** Rows in a text-format COPY chunk: a raw newline only ever ends a row (data newlines are escaped). */
function countRows(chunk: Buffer): number {
  let n = 0;
  let i = chunk.indexOf(NEWLINE);
  while (i !== -1) {
    n++;
    i = chunk.indexOf(NEWLINE, i + 1);
  }
  return n;
}

/**
 * Streams `COPY (...) TO STDOUT` on `source` into `COPY ... FROM STDIN` on
 * `dest` without looking inside rows: the ~64 KiB CopyData chunks are passed
 * on as they come (rows cross them). One write is in flight at a time, so a
 * destination error never meets queued writes (pg-copy-streams drops its
 * connection on error and would throw on them); the source is paused
 * meanwhile, which is the backpressure.
 *
 * On a destination error or abort the source query is cancelled and drained
 * until it ends; on a source error the destination COPY is failed
 * (CopyFail), so both connections are idle again when this settles and each
 * side's transaction holds the error.
 */
export function pipeCopy(opts: {
  source: pg.Client;
  dest: pg.ClientBase;
  outSql: string;
  inSql: string;
  onData?: (bytes: number, rows: number) => void;
  /** Rewrites rows (row rules); absent: chunks pass unchanged. */
  transform?: RowTransform | undefined;
  /** Rows read from the source wait for their tokens before they go on. */
  rateLimit?: RowRateLimit | undefined;
  signal?: AbortSignal | undefined;
}): Promise<{ rows: number; bytes: number }> {
  if (opts.signal?.aborted) {
    return Promise.reject(new PipeFailure('abort', opts.signal.reason));
  }
  return new Promise((resolve, reject) => {
    const inp = opts.dest.query(copyFrom(opts.inSql));
    const out = opts.source.query(copyTo(opts.outSql));
    let bytes = 0;
    let failure: PipeFailure | undefined;
    let outDone = false;
    let inDone = false;
    /** A chunk waiting for its rate tokens. */
    let timer: NodeJS.Timeout | undefined;

    const settle = (): void => {
      if (!outDone || !inDone) return;
      opts.signal?.removeEventListener('abort', onAbort);
      if (failure) reject(failure);
      else resolve({ rows: inp.rowCount, bytes });
    };

    const stopSource = (): void => {
      if (outDone) return;
      void cancelQuery(opts.source);
      // Keep reading so the connection reaches the server's error and is usable again.
      out.resume();
    };

    const fail = (side: CopySide | 'abort', err: unknown): void => {
      if (failure) return;
      failure = new PipeFailure(side, err);
      if (timer) {
        // A chunk waiting for its rate tokens is dropped with the COPY.
        clearTimeout(timer);
        timer = undefined;
        out.resume();
        if (ended) finishInput();
      }
      if (side !== 'source') stopSource();
      if (side !== 'destination' && !inDone) {
        // CopyFail: the server rolls the COPY back and answers with an error.
        inp.destroy(err instanceof Error ? err : new Error(String(err)));
      }
    };

    const onAbort = (): void => fail('abort', opts.signal?.reason ?? new Error('aborted'));

    /** The source has ended: CopyDone goes after the last chunk, which may still wait for its tokens. */
    let ended = false;
    const finishInput = (): void => {
      if (!failure && opts.transform) {
        try {
          opts.transform.end();
        } catch (e) {
          fail('source', e);
        }
      }
      // end() queues CopyDone behind the write in flight.
      if (!failure) inp.end();
    };
    const write = (chunk: Buffer): void => {
      timer = undefined;
      let data = failure ? undefined : chunk;
      if (data && opts.transform) {
        try {
          data = opts.transform.push(data);
        } catch (e) {
          fail('source', e);
          data = undefined;
        }
      }
      if (data && data.length > 0) {
        inp.write(data, () => {
          // After a failure too: the source must drain to its end or its error.
          out.resume();
        });
      } else out.resume();
      if (ended) finishInput();
    };

    out.on('data', (chunk: Buffer) => {
      if (failure) return;
      bytes += chunk.length;
      const rows = countRows(chunk);
      opts.onData?.(chunk.length, rows);
      // onData may have aborted: never write to a destroyed COPY.
      if (failure) return;
      out.pause();
      const wait = opts.rateLimit?.take(rows) ?? 0;
      if (wait > 0) timer = setTimeout(write, wait, chunk);
      else write(chunk);
    });
    out.on('end', () => {
      outDone = true;
      ended = true;
      // 'end' comes once every chunk was delivered, even to a paused stream.
      if (!timer) finishInput();
      settle();
    });
    out.on('error', (e) => {
      outDone = true;
      fail('source', e);
      settle();
    });
    inp.on('finish', () => {
      inDone = true;
      settle();
    });
    inp.on('error', (e) => {
      inDone = true;
      fail('destination', e);
      settle();
    });
    inp.on('close', () => {
      if (failure && !inDone) {
        inDone = true;
        settle();
      }
    });

    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
