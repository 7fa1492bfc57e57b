import type { PgCluster } from '@kuvasz/testkit';
import pg from 'pg';
import { type InternalOptions, withInternals } from '../src/engine.js';
import {
  ApplyEngine,
  type ApplyEngineOptions,
  type ChangeTuple,
  type RowChange,
  type SourceId,
  type SourceRelation,
  type SourceTransaction,
  type TableMapping,
} from '../src/index.js';

export const S1: SourceId = { database: 'src', sid: '1' };
export const S2: SourceId = { database: 'src', sid: '2' };

/** A source relation: columns as [name, isKey] (type OIDs do not matter to the engine). */
export function rel(
  table: string,
  cols: (string | [string, boolean])[],
  replicaIdentity: SourceRelation['replicaIdentity'] = 'default',
  schema = 'public',
): SourceRelation {
  return {
    schema,
    table,
    replicaIdentity,
    columns: cols.map((c) => {
      const [name, isKey] = typeof c === 'string' ? [c, replicaIdentity === 'full'] : c;
      return { name, typeOid: 25, isKey: isKey || replicaIdentity === 'full' };
    }),
  };
}

export const ins = (relation: SourceRelation, values: ChangeTuple): RowChange => ({
  op: 'insert',
  relation,
  new: values,
});
export const upd = (
  relation: SourceRelation,
  values: ChangeTuple,
  old?: { key?: ChangeTuple; old?: ChangeTuple },
): RowChange => ({
  op: 'update',
  relation,
  new: values,
  key: old?.key,
  old: old?.old,
});
export const del = (
  relation: SourceRelation,
  old: { key?: ChangeTuple; old?: ChangeTuple },
): RowChange => ({
  op: 'delete',
  relation,
  key: old.key,
  old: old.old,
});
export const trunc = (...relations: SourceRelation[]): RowChange => ({
  op: 'truncate',
  relations,
  cascade: false,
  restartIdentity: false,
});

let clock = Date.UTC(2024, 0, 1);
/** Transactions with increasing LSNs and commit times (one second apart). */
export function txs(source: SourceId, start: bigint, list: RowChange[][]): SourceTransaction[] {
  return list.map((changes, i) => {
    clock += 1000;
    return {
      source,
      commitLsn: start + BigInt(i) * 100n,
      endLsn: start + BigInt(i) * 100n + 8n,
      commitTime: new Date(clock).toISOString(),
      changes,
    };
  });
}

export function mapping(
  table: string,
  type: TableMapping['type'],
  target = table,
  database = 'src',
  targetSchema = 'public',
  sourceSchema = 'public',
): TableMapping {
  return {
    source: { database, schema: sourceSchema, table },
    target: { schema: targetSchema, table: target },
    type,
  };
}

export interface Harness {
  pool: pg.Pool;
  db: string;
  cluster: PgCluster;
  engine(
    options: Partial<ApplyEngineOptions & InternalOptions> & Pick<ApplyEngineOptions, 'tables'>,
  ): Promise<ApplyEngine>;
  rows<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

/**
 * `KUVASZ_TEST_STAGE_MIN_ROWS=1` runs every update, delete and history close
 * of a suite through the staging tables (`pnpm test:staged` does, for the
 * suites that cover statement shapes); unset, the engine's default.
 */
const STAGE_MIN_ROWS = process.env.KUVASZ_TEST_STAGE_MIN_ROWS
  ? Number(process.env.KUVASZ_TEST_STAGE_MIN_ROWS)
  : undefined;

export async function harness(cluster: PgCluster, ddl: string): Promise<Harness> {
  const db = await cluster.createDatabase();
  await cluster.sql(ddl, [], db);
  const pool = new pg.Pool({ connectionString: cluster.urlFor(db), max: 8 });
  pool.on('error', () => {});
  const engines: ApplyEngine[] = [];
  return {
    pool,
    db,
    cluster,
    async engine(options) {
      const {
        testHooks,
        copyMinRows,
        stageMinRows = STAGE_MIN_ROWS,
        slowGroupMs,
        ...rest
      } = options;
      const e = new ApplyEngine(
        withInternals(
          { destination: pool, batchRows: 1000, flushIntervalMs: 20, ...rest },
          {
            ...(testHooks ? { testHooks } : {}),
            ...(copyMinRows !== undefined ? { copyMinRows } : {}),
            ...(stageMinRows !== undefined ? { stageMinRows } : {}),
            ...(slowGroupMs !== undefined ? { slowGroupMs } : {}),
          },
        ),
      );
      await e.start();
      engines.push(e);
      return e;
    },
    async rows(sql, params = []) {
      return (await pool.query(sql, params)).rows;
    },
    async close() {
      for (const e of engines) await e.close().catch(() => {});
      await pool.end();
    },
  };
}

export async function pushAll(engine: ApplyEngine, list: SourceTransaction[]): Promise<void> {
  for (const t of list) await engine.push(t);
  await engine.flush();
  for (const s of new Set(list.map((t) => t.source))) {
    const status = engine.sourceStatus(s);
    if (status.state !== 'running') throw status.error ?? new Error('source failed');
  }
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  obj: Record<string, unknown>;
}

/** A logger that records what the engine logs, for assertions. */
export function captureLogger(lines: LogLine[] = []): {
  lines: LogLine[];
  logger: import('../src/index.js').Logger;
} {
  const make = (bindings: Record<string, unknown>): import('../src/index.js').Logger => ({
    child: (b) => make({ ...bindings, ...b }),
    debug: (obj, msg) => lines.push({ level: 'debug', msg, obj: { ...bindings, ...obj } }),
    info: (obj, msg) => lines.push({ level: 'info', msg, obj: { ...bindings, ...obj } }),
    warn: (obj, msg) => lines.push({ level: 'warn', msg, obj: { ...bindings, ...obj } }),
    error: (obj, msg) => lines.push({ level: 'error', msg, obj: { ...bindings, ...obj } }),
  });
  return { lines, logger: make({}) };
}
