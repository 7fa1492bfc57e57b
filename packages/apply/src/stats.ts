export type OperationResult = 'ok' | 'conflict' | 'missing' | 'error' | 'skipped' | 'filtered';
export type Operation = 'insert' | 'update' | 'delete' | 'truncate';

export interface StatEntry {
  database: string;
  sid: string;
  /** Target table, `schema.table`. */
  table: string;
  operation: Operation;
  result: OperationResult;
  count: number;
}

/** Counters per source / target table / operation / result, for Prometheus. */
export class Stats {
  private readonly counts = new Map<string, StatEntry>();

  add(
    database: string,
    sid: string,
    table: string,
    operation: Operation,
    result: OperationResult,
    n = 1,
  ): void {
    if (n === 0) return;
    const key = `${database}\u0000${sid}\u0000${table}\u0000${operation}\u0000${result}`;
    const e = this.counts.get(key);
    if (e) e.count += n;
    else this.counts.set(key, { database, sid, table, operation, result, count: n });
  }

  snapshot(): StatEntry[] {
    return [...this.counts.values()].map((e) => ({ ...e }));
  }
}
