import type { ProgressEvent } from './types.js';

/**
 * Counts one table's rows and bytes as they flow and reports them at most
 * every `intervalMs` (and always once at the end); rates are this run's
 * averages since the table started.
 */
export class ProgressReporter {
  private rows = 0;
  private bytes = 0;
  private chunksDone: number;
  private last = 0;
  private readonly started = performance.now();

  constructor(
    private readonly table: string,
    private readonly chunksTotal: number,
    chunksAlreadyDone: number,
    private readonly intervalMs: number,
    private readonly emit: ((p: ProgressEvent) => void) | undefined,
  ) {
    this.chunksDone = chunksAlreadyDone;
  }

  add(bytes: number, rows: number): void {
    this.bytes += bytes;
    this.rows += rows;
    this.maybeEmit();
  }

  /** A chunk committed. */
  chunkDone(): void {
    this.chunksDone++;
    this.maybeEmit();
  }

  /** A chunk rolled back: its rows and bytes no longer count. */
  rollback(bytes: number, rows: number): void {
    this.bytes -= bytes;
    this.rows -= rows;
  }

  done(): void {
    this.send(true);
  }

  private maybeEmit(): void {
    if (!this.emit) return;
    if (performance.now() - this.last < this.intervalMs) return;
    this.send(false);
  }

  private send(done: boolean): void {
    if (!this.emit) return;
    const now = performance.now();
    this.last = now;
    const secs = Math.max((now - this.started) / 1000, 1e-3);
    const event: ProgressEvent = {
      table: this.table,
      rows: this.rows,
      bytes: this.bytes,
      chunksDone: this.chunksDone,
      chunksTotal: this.chunksTotal,
      rowsPerSecond: Math.round(this.rows / secs),
      bytesPerSecond: Math.round(this.bytes / secs),
      done,
    };
    try {
      this.emit(event);
    } catch {
      // A throwing progress callback must not break a copy.
    }
  }
}
