import type { Logger } from 'pino';

export interface TableProgress {
  /** `sid/schema.table` or similar; one line each. */
  label: string;
  rows: number;
  bytes: number;
  chunksDone: number;
  chunksTotal: number;
  bytesPerSecond: number;
  done: boolean;
  /** Rows expected (from the planner's estimate), when known. */
  estimatedRows?: number | undefined;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  return String(n);
}

/** One line of a bar: `label [#####-----]  50%  1.2M rows  140 MB  35.0 MB/s  chunks 5/10`. */
export function renderBar(p: TableProgress, width = 24): string {
  const fraction = p.done
    ? 1
    : p.chunksTotal > 1
      ? p.chunksDone / p.chunksTotal
      : p.estimatedRows
        ? Math.min(0.99, p.rows / p.estimatedRows)
        : undefined;
  const bar =
    fraction === undefined
      ? `[${'~'.repeat(width)}]`
      : `[${'#'.repeat(Math.round(fraction * width)).padEnd(width, '-')}] ${String(Math.round(fraction * 100)).padStart(3)}%`;
  const parts = [
    `${formatCount(p.rows)} rows`,
    formatBytes(p.bytes),
    p.done ? 'done' : `${formatBytes(p.bytesPerSecond)}/s`,
  ];
  if (p.chunksTotal > 1) parts.push(`chunks ${p.chunksDone}/${p.chunksTotal}`);
  return `${p.label.padEnd(32).slice(0, 32)} ${bar}  ${parts.join('  ')}`;
}

/**
 * Initial-sync progress: live bars on a terminal (redrawn in place at most
 * 10 times a second), a log line per table every few seconds otherwise.
 */
export class SyncProgress {
  private readonly tables = new Map<string, TableProgress>();
  private drawn = 0;
  private lastDraw = 0;
  private readonly lastLog = new Map<string, number>();

  constructor(
    private readonly out: NodeJS.WriteStream | undefined,
    private readonly log: Logger,
    /** sync.rows_per_second, shown with the bars and logged with the progress. */
    private readonly rowsPerSecondLimit?: number | undefined,
    private readonly logEveryMs = 5000,
  ) {}

  private get interactive(): boolean {
    return Boolean(this.out?.isTTY);
  }

  update(p: TableProgress): void {
    this.tables.set(p.label, p);
    if (this.interactive) {
      const now = Date.now();
      if (p.done || now - this.lastDraw >= 100) this.draw();
      return;
    }
    const last = this.lastLog.get(p.label) ?? 0;
    if (p.done || Date.now() - last >= this.logEveryMs) {
      this.lastLog.set(p.label, Date.now());
      this.log.info(
        {
          table: p.label,
          rows: p.rows,
          bytes: p.bytes,
          chunks: `${p.chunksDone}/${p.chunksTotal}`,
          bytesPerSecond: Math.round(p.bytesPerSecond),
          ...(this.rowsPerSecondLimit !== undefined
            ? { limitRowsPerSecond: this.rowsPerSecondLimit }
            : {}),
        },
        p.done ? 'table synced' : 'sync progress',
      );
    }
  }

  private draw(): void {
    const out = this.out;
    if (!out) return;
    this.lastDraw = Date.now();
    const lines = [...this.tables.values()].map((p) => renderBar(p, 24));
    if (this.rowsPerSecondLimit !== undefined) {
      lines.unshift(
        `initial copy limited to ${formatCount(this.rowsPerSecondLimit)} rows/s for all tables (sync.rows_per_second)`,
      );
    }
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const l of lines) s += `\x1b[2K${l}\n`;
    out.write(s);
    this.drawn = lines.length;
  }

  /** Leaves the final bars on screen and forgets them. */
  finish(): void {
    if (this.interactive) this.draw();
    this.tables.clear();
    this.drawn = 0;
  }
}
