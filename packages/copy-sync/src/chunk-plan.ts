/** Default ctid range size: 16384 pages of 8 KiB = 128 MiB of heap (see the README's measurements). */
export const DEFAULT_CHUNK_PAGES = 16_384;

/** First major with TID range scans; before it a ctid range is a filtered full scan. */
export const TID_RANGE_SCAN_MAJOR = 14;

/** How many chunks a table of `pages` pages gets. */
export function chunkCount(pages: number, chunkPages: number, serverMajor: number): number {
  if (serverMajor < TID_RANGE_SCAN_MAJOR) return 1;
  return Math.max(1, Math.ceil(pages / chunkPages));
}

/**
 * The WHERE clause of chunk `index` of `total`: `[index * chunkPages, next)`;
 * the last chunk is open-ended so pages added after the plan (a resumed copy
 * reads a newer snapshot) are still covered, and a single chunk has no filter.
 */
export function chunkPredicate(index: number, total: number, chunkPages: number): string {
  if (total <= 1) return '';
  const from = index * chunkPages;
  const lower = index === 0 ? '' : `ctid >= '(${from},0)'::tid`;
  const upper = index === total - 1 ? '' : `ctid < '(${from + chunkPages},0)'::tid`;
  return [lower, upper].filter(Boolean).join(' AND ');
}
