import { createHash } from 'node:crypto';
import { displayName, formatLsn, qualifiedName } from '@kuvasz/core';
import type pg from 'pg';
import { describeRelation, type RelationInfo, relationPages } from './catalog.js';
import { chunkCount } from './chunk-plan.js';
import { copyColumns, HISTORY_COLUMNS, mapColumns, SID_COLUMN } from './column-mapping.js';
import { CopyError } from './errors.js';
import { createStagingSql, deleteSourceRowsSql } from './merge-sql.js';
import type { StateKey, StoredTable } from './metadata-store.js';
import type { BoundCopyRules } from './row-rules.js';
import { ident, literal } from './sql.js';
import { checkFence, type TablePlan, type TableRunContext, tableError } from './table-context.js';
import type { TableSpec } from './types.js';

const ACCEPTED_KINDS = new Set(['r', 'p']);

function problem(ctx: TableRunContext, side: 'source' | 'destination', message: string): CopyError {
  const table = displayName(ctx.spec.source);
  const target = displayName(ctx.spec.target);
  return new CopyError({
    table,
    target,
    rowsCopied: 0,
    side,
    message: `copy of ${table} into ${target} (database ${ctx.source.database}, sid ${ctx.source.sid}): ${message}`,
  });
}

/** Source catalog reads run in a reader's snapshot transaction, inside a savepoint to keep it alive on error. */
async function describeSource(
  ctx: TableRunContext,
): Promise<{ info: RelationInfo | undefined; pages: number; major: number }> {
  const reader = await ctx.readers.acquire();
  let broken: unknown;
  try {
    await reader.client.query('SAVEPOINT kvsz_describe');
    const info = await describeRelation(reader.client, ctx.spec.source);
    const pages = info ? await relationPages(reader.client, info.oid) : 0;
    await reader.client.query('RELEASE SAVEPOINT kvsz_describe');
    return { info, pages, major: reader.major };
  } catch (e: unknown) {
    await reader.client.query('ROLLBACK TO SAVEPOINT kvsz_describe').catch((e2: unknown) => {
      broken = e2;
    });
    throw tableError(ctx, 'source', e, 0, 'reading the catalog');
  } finally {
    ctx.readers.release(reader, broken);
  }
}

/** The key the history merge matches versions on: the target's primary key without sid and kvsz_*, else the source's. */
export function historyKey(source: RelationInfo, target: RelationInfo, copied: string[]): string[] {
  const skip = new Set<string>([SID_COLUMN, ...HISTORY_COLUMNS]);
  const fromTarget = target.primaryKey.filter((c) => !skip.has(c));
  if (fromTarget.length > 0 && fromTarget.every((c) => copied.includes(c))) return fromTarget;
  const fromSource = source.primaryKey.filter((c) => copied.includes(c));
  return fromSource.length === source.primaryKey.length ? fromSource : [];
}

function stagingName(key: StateKey): string {
  const h = createHash('sha256')
    .update(
      JSON.stringify([
        key.database,
        key.sid,
        key.table.schema,
        key.table.table,
        key.target.schema,
        key.target.table,
      ]),
    )
    .digest('hex')
    .slice(0, 20);
  return `copy_sync_stg_${h}`;
}

/**
 * Decides how this run loads the table: fresh (direct into an empty target,
 * else through a staging table), continued on the same snapshot, resumed
 * chunk-wise at a new snapshot (clone/append with a key), or restarted from
 * zero (history, keyless targets, staging loads).
 */
export async function planTable(
  ctx: TableRunContext,
  dest: pg.PoolClient,
): Promise<TablePlan | StoredTable> {
  const { spec, source, snapshot } = ctx;
  const key: StateKey = {
    database: source.database,
    sid: source.sid,
    table: spec.source,
    target: spec.target,
  };
  const src = await describeSource(ctx);
  if (!src.info) {
    throw problem(
      ctx,
      'source',
      'the source table does not exist or the role cannot see it; check the name and USAGE on its schema',
    );
  }
  if (!ACCEPTED_KINDS.has(src.info.kind)) {
    throw problem(
      ctx,
      'source',
      `the source is not a table (relkind '${src.info.kind}'); only tables and partitioned tables can be copied`,
    );
  }
  let target: RelationInfo | undefined;
  try {
    target = await describeRelation(dest, spec.target);
  } catch (e: unknown) {
    throw tableError(ctx, 'destination', e, 0, 'reading the catalog');
  }
  if (!target) {
    throw problem(
      ctx,
      'destination',
      'the target table does not exist; create it first (`kuvasz-streamer plan` prints its DDL)',
    );
  }
  if (!ACCEPTED_KINDS.has(target.kind)) {
    throw problem(ctx, 'destination', `the target is not a table (relkind '${target.kind}')`);
  }
  let rows: BoundCopyRules | undefined;
  try {
    rows = spec.rows?.bind(src.info.columns);
  } catch (e: unknown) {
    throw problem(ctx, 'source', `row rules: ${e instanceof Error ? e.message : String(e)}`);
  }
  const { mapping, problems } = mapColumns(src.info, target, spec.type, rows);
  if (problems.length > 0) {
    throw problem(ctx, 'destination', problems.map((p) => p.message).join('; '));
  }

  let stored: StoredTable | undefined;
  try {
    stored = await ctx.store.load(dest, key);
  } catch (e: unknown) {
    throw tableError(ctx, 'destination', e, 0, 'reading the copy state');
  }
  if (stored && stored.type !== spec.type) {
    ctx.logger.warn(
      { table: displayName(spec.source), was: stored.type, now: spec.type },
      'copy state belongs to another target type; starting over',
    );
    if (stored.status === 'copying' && stored.stagingTable)
      await dropStaging(ctx, dest, stored.stagingTable);
    stored = undefined;
  }
  if (stored?.status === 'done') return stored;

  const base = {
    key,
    source: src.info,
    target,
    mapping,
  };
  const fresh = async (): Promise<TablePlan> => {
    const sidValue = mapping.hasSid ? source.sid : undefined;
    const check = await dest.query<{ has: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM ${qualifiedName(spec.target)}${sidValue === undefined ? '' : ` WHERE ${ident(SID_COLUMN)} = ${literal(sidValue)}`}) AS has`,
    );
    const mode = check.rows[0]?.has ? 'staging' : 'direct';
    if (mode === 'staging')
      requireMergeKey(ctx, spec, src.info as RelationInfo, target, mapping.copied);
    const chunksTotal = chunkCount(src.pages, ctx.chunkPages, src.major);
    const stagingTable = mode === 'staging' ? stagingName(key) : undefined;
    const staging = stagingTable ? `${ident(ctx.store.schema)}.${ident(stagingTable)}` : undefined;
    if (staging) {
      await dest.query(`DROP TABLE IF EXISTS ${staging}`);
      const cols = copyColumns(mapping, source.sid, false).targetColumns;
      await dest.query(createStagingSql(staging, qualifiedName(spec.target), cols, 'unlogged'));
    }
    await ctx.store.begin(dest, key, {
      type: spec.type,
      mode,
      snapshotName: snapshot.name,
      snapshotLsn: snapshot.lsn,
      chunkPages: ctx.chunkPages,
      chunksTotal,
      historyTime: snapshot.time,
      stagingTable,
    });
    return {
      ...base,
      mode,
      staging,
      chunkPages: ctx.chunkPages,
      chunksTotal,
      done: new Set(),
      upsert: false,
      resumed: false,
      skipBefore: snapshot.lsn,
      reconcileBefore: undefined,
      historyTime: snapshot.time,
      priorRows: 0,
      priorBytes: 0,
    };
  };

  const inTx = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      await dest.query('BEGIN');
      const out = await fn();
      await checkFence(ctx, dest);
      await dest.query('COMMIT');
      return out;
    } catch (e: unknown) {
      await dest.query('ROLLBACK').catch(() => {});
      throw tableError(ctx, 'destination', e, 0, 'preparing the target');
    }
  };

  if (!stored) return inTx(fresh);

  const chunks = await ctx.store.chunks(dest, key);
  const done = new Set(chunks.map((c) => c.chunk));
  const prior = {
    priorRows: chunks.reduce((a, c) => a + c.rows, 0),
    priorBytes: chunks.reduce((a, c) => a + c.bytes, 0),
  };
  const staging = stored.stagingTable
    ? `${ident(ctx.store.schema)}.${ident(stored.stagingTable)}`
    : undefined;
  const continued: TablePlan = {
    ...base,
    ...prior,
    mode: stored.mode,
    staging,
    chunkPages: stored.chunkPages,
    chunksTotal: stored.chunksTotal,
    done,
    upsert: stored.mode === 'direct' && stored.skipBefore !== snapshot.lsn,
    resumed: done.size > 0,
    skipBefore: stored.skipBefore,
    reconcileBefore: stored.reconcileBefore,
    historyTime: stored.historyTime ?? snapshot.time,
  };
  const sameSnapshot = stored.snapshotName === snapshot.name && stored.snapshotLsn === snapshot.lsn;
  if (sameSnapshot) {
    if (!staging || (await stagingIntact(dest, staging, prior.priorRows))) return continued;
    ctx.logger.warn(
      { table: displayName(spec.source) },
      'staging table lost rows (destination crash?); restarting the table',
    );
  } else if (
    done.size > 0 &&
    stored.mode === 'direct' &&
    spec.type !== 'history' &&
    target.uniqueKey.length > 0 &&
    snapshot.lsn > stored.skipBefore
  ) {
    // Chunk-wise resume: rows of the done chunks are as of skipBefore, the rest
    // as of this snapshot; the stream's changes in between are reconciled.
    const reconcileBefore =
      stored.reconcileBefore !== undefined && stored.reconcileBefore > snapshot.lsn
        ? stored.reconcileBefore
        : snapshot.lsn;
    await inTx(() => ctx.store.resumeAt(dest, key, snapshot.name, snapshot.lsn, reconcileBefore));
    ctx.logger.info(
      {
        table: displayName(spec.source),
        chunksDone: done.size,
        reconcileBefore: formatLsn(reconcileBefore),
      },
      'resuming copy at a new snapshot',
    );
    return { ...continued, upsert: true, resumed: true, reconcileBefore };
  }
  // Restart from zero: remove what this copy loaded, then plan afresh.
  ctx.logger.info(
    { table: displayName(spec.source), chunksDone: done.size, mode: stored.mode },
    'restarting copy from zero',
  );
  return inTx(async () => {
    if (stored.mode === 'direct' && done.size > 0) {
      await dest.query(
        deleteSourceRowsSql(qualifiedName(spec.target), mapping.hasSid ? source.sid : undefined),
      );
    }
    if (staging) await dest.query(`DROP TABLE IF EXISTS ${staging}`);
    return fresh();
  });
}

async function stagingIntact(dest: pg.PoolClient, staging: string, rows: number): Promise<boolean> {
  const res = await dest.query<{ n: string | null }>(
    `SELECT CASE WHEN to_regclass($1) IS NULL THEN NULL ELSE (SELECT count(*) FROM ${staging})::text END AS n`,
    [staging],
  );
  const n = res.rows[0]?.n;
  return n !== null && n !== undefined && Number(n) === rows;
}

async function dropStaging(ctx: TableRunContext, dest: pg.PoolClient, name: string): Promise<void> {
  await dest.query(`DROP TABLE IF EXISTS ${ident(ctx.store.schema)}.${ident(name)}`);
}

function requireMergeKey(
  ctx: TableRunContext,
  spec: TableSpec,
  source: RelationInfo,
  target: RelationInfo,
  copied: string[],
): void {
  if (spec.type === 'append' && target.uniqueKey.length === 0) {
    throw problem(
      ctx,
      'destination',
      'the target already holds rows of this source and has no primary key (or NOT NULL unique index) to upsert them on; add one (sid plus the source key)',
    );
  }
  if (spec.type === 'history' && historyKey(source, target, copied).length === 0) {
    throw problem(
      ctx,
      'destination',
      'the target already holds rows of this source and no key identifies a row across versions; give the target a primary key (sid, the source key, kvsz_start) or the source a primary key',
    );
  }
}
