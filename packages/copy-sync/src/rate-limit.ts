/**
 * A token bucket of rows, shared by every copy that holds it: the original
 * kuvasz-streamer's `sync_rate` (rows per second, all copies together) and
 * `sync_burst` (rows that may go ahead of the rate after a pause). Chunks of
 * rows take their tokens at once and wait off any debt, so the long-run
 * rate is exact whatever the chunk size.
 */
export class RowRateLimit {
  readonly rowsPerSecond: number;
  readonly burst: number;
  private tokens: number;
  private last = performance.now();

  constructor(options: { rowsPerSecond: number; burst?: number | undefined }) {
    if (!(options.rowsPerSecond > 0))
      throw new RangeError(`rowsPerSecond must be above 0 (got ${options.rowsPerSecond})`);
    this.rowsPerSecond = options.rowsPerSecond;
    this.burst = Math.max(1, options.burst ?? 1000);
    this.tokens = this.burst;
  }

  /** Takes `rows` tokens; the milliseconds to wait before those rows may go on (0: at once). */
  take(rows: number): number {
    const now = performance.now();
    this.tokens = Math.min(
      this.burst,
      this.tokens + ((now - this.last) * this.rowsPerSecond) / 1000,
    );
    this.last = now;
    this.tokens -= rows;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.rowsPerSecond;
  }
}
