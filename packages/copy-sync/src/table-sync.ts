import { displayName, formatLsn, qualifiedName } from '@kuvasz/core';
import type pg from 'pg';
import { chunkPredicate } from './chunk-plan.js';
import { copyColumns } from './column-mapping.js';
import { PipeFailure, pipeCopy } from './copy-pipe.js';
import { CopySyncError } from './errors.js';
import {
  copyInSql,
  copyOutSql,
  createStagingSql,
  deleteSourceRowsSql,
  historyMergeSql,
  insertAllSql,
  upsertSql,
} from './merge-sql.js';
import type { StoredTable } from './metadata-store.js';
import { ProgressReporter } from './progress.js';
import type { Reader } from './reader-pool.js';
import { RowTransform } from './row-transform.js';
import {
  abortedError,
  checkFence,
  type TablePlan,
  type TableRunContext,
  tableError,
} from './table-context.js';
import { historyKey, planTable } from './table-plan.js';
import type { TableSyncResult } from './types.js';

const TEMP_STAGING = '"kvsz_copy_sync_resume"';

/** Syncs one table: plan, chunks over the shared readers, then the final merge and state. */
export async function syncTable(ctx: TableRunContext): Promise<TableSyncResult> {
  const log = ctx.logger.child({
    table: displayName(ctx.spec.source),
    target: displayName(ctx.spec.target),
  });
  let planned: TablePlan | StoredTable;
  const dest = await connectDest(ctx);
  try {
    planned = await planTable(ctx, dest);
  } finally {
    dest.release();
  }
  if ('status' in planned) {
    log.info({}, 'table already synced; nothing to copy');
    return resultOf(planned, false, true);
  }
  const plan = planned;
  const progress = new ProgressReporter(
    displayName(ctx.spec.source),
    plan.chunksTotal,
    plan.done.size,
    ctx.progressIntervalMs,
    ctx.onProgress,
  );
  log.info(
    {
      mode: plan.mode,
      chunks: plan.chunksTotal,
      chunksDone: plan.done.size,
      resumed: plan.resumed,
      copied: plan.mapping.copied.length,
      defaulted: plan.mapping.defaulted,
      dropped: plan.mapping.dropped,
    },
    'copying table',
  );
  const pending = [...Array(plan.chunksTotal).keys()].filter((c) => !plan.done.has(c));
  let rowsCopied = 0;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (firstError === undefined && pending.length > 0) {
      if (ctx.signal?.aborted) {
        firstError ??= abortedError(ctx, ctx.signal.reason);
        return;
      }
      let reader: Reader;
      try {
        reader = await ctx.readers.acquire();
      } catch (e: unknown) {
        firstError ??= tableError(ctx, 'source', e, rowsCopied);
        return;
      }
      const chunk = pending.shift();
      if (chunk === undefined || firstError !== undefined) {
        ctx.readers.release(reader);
        return;
      }
      let broken: unknown;
      try {
        const out = await copyChunk(
          ctx,
          plan,
          reader,
          chunk,
          progress,
          () => rowsCopied,
          (e) => {
            broken = e;
          },
        );
        rowsCopied += out.rows;
        progress.chunkDone();
      } catch (e: unknown) {
        firstError ??= e;
      } finally {
        ctx.readers.release(reader, broken);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(ctx.readerCount, pending.length) }, worker));
  if (firstError !== undefined) throw firstError;
  if (ctx.signal?.aborted) throw abortedError(ctx, ctx.signal.reason);

  const stored = await finalize(ctx, plan, rowsCopied);
  progress.done();
  log.info(
    { rows: stored.rows, bytes: stored.bytes, skipBefore: formatLsn(stored.skipBefore) },
    'table synced',
  );
  return resultOf(stored, plan.resumed, false);
}

async function connectDest(ctx: TableRunContext): Promise<pg.PoolClient> {
  try {
    return await ctx.pool.connect();
  } catch (e: unknown) {
    throw tableError(ctx, 'destination', e, 0, 'connecting');
  }
}

/**
 * One chunk in one destination transaction, recorded there: the source side
 * runs in a savepoint of the reader's snapshot transaction so a source error
 * leaves the reader usable for other tables.
 */
async function copyChunk(
  ctx: TableRunContext,
  plan: TablePlan,
  reader: Reader,
  chunk: number,
  progress: ProgressReporter,
  rowsSoFar: () => number,
  markBroken: (e: unknown) => void,
): Promise<{ rows: number }> {
  const dest = await connectDest(ctx);
  const withHistory = plan.mode === 'direct' && ctx.spec.type === 'history';
  const { targetColumns, selectList } = copyColumns(plan.mapping, ctx.source.sid, withHistory);
  const target = qualifiedName(ctx.spec.target);
  const loadInto = plan.upsert ? TEMP_STAGING : (plan.staging ?? target);
  const chunkWhere = chunkPredicate(chunk, plan.chunksTotal, plan.chunkPages);
  const pushed = plan.mapping.rows?.where;
  const where = pushed ? (chunkWhere ? `(${chunkWhere}) AND (${pushed})` : pushed) : chunkWhere;
  const transform = plan.mapping.rows
    ? new RowTransform(plan.mapping.rows, plan.mapping.copied.length)
    : undefined;
  let counted = { bytes: 0, rows: 0 };
  let side: 'source' | 'destination' = 'destination';
  let destBroken: unknown;
  try {
    await dest.query('BEGIN');
    // Safe: the chunk record commits with the rows; a lost commit loses both and the chunk is redone.
    await dest.query('SET LOCAL synchronous_commit = off');
    if (plan.upsert)
      await dest.query(createStagingSql(TEMP_STAGING, target, targetColumns, 'temp'));
    side = 'source';
    await reader.client.query('SAVEPOINT kvsz_chunk');
    side = 'destination';
    const { rows, bytes } = await pipeCopy({
      source: reader.client,
      dest,
      outSql: copyOutSql(selectList, qualifiedName(ctx.spec.source), where),
      inSql: copyInSql(loadInto, targetColumns),
      transform,
      rateLimit: ctx.rateLimit,
      onData: (b, r) => {
        counted = { bytes: counted.bytes + b, rows: counted.rows + r };
        progress.add(b, r);
      },
      signal: ctx.signal,
    });
    if (plan.upsert) {
      await dest.query(
        upsertSql({
          target,
          staging: TEMP_STAGING,
          columns: targetColumns,
          key: plan.target.uniqueKey,
          overridingSystemValue: plan.mapping.overridingSystemValue,
        }),
      );
    }
    await ctx.store.recordChunk(dest, plan.key, { chunk, rows, bytes }, ctx.snapshot.lsn);
    await checkFence(ctx, dest);
    await dest.query('COMMIT');
    side = 'source';
    await reader.client.query('RELEASE SAVEPOINT kvsz_chunk');
    return { rows };
  } catch (e: unknown) {
    progress.rollback(counted.bytes, counted.rows);
    await dest.query('ROLLBACK').catch((e2: unknown) => {
      destBroken = e2;
    });
    await reader.client.query('ROLLBACK TO SAVEPOINT kvsz_chunk').catch(markBroken);
    if (e instanceof PipeFailure) {
      if (e.side === 'abort') throw abortedError(ctx, e.cause);
      throw tableError(
        ctx,
        e.side,
        e.cause,
        rowsSoFar(),
        `chunk ${chunk + 1} of ${plan.chunksTotal}`,
      );
    }
    throw tableError(ctx, side, e, rowsSoFar(), `chunk ${chunk + 1} of ${plan.chunksTotal}`);
  } finally {
    dest.release(destBroken instanceof Error ? destBroken : undefined);
  }
}

/** The last transaction: staging merged into the target (by type), state marked done. */
async function finalize(
  ctx: TableRunContext,
  plan: TablePlan,
  rowsCopied: number,
): Promise<StoredTable> {
  const dest = await connectDest(ctx);
  const target = qualifiedName(ctx.spec.target);
  const sid = plan.mapping.hasSid ? ctx.source.sid : undefined;
  try {
    await dest.query('BEGIN');
    if (plan.staging) {
      const columns = copyColumns(plan.mapping, ctx.source.sid, false).targetColumns;
      const over = plan.mapping.overridingSystemValue;
      switch (ctx.spec.type) {
        case 'clone':
          await dest.query(deleteSourceRowsSql(target, sid));
          await dest.query(
            insertAllSql({ target, staging: plan.staging, columns, overridingSystemValue: over }),
          );
          break;
        case 'append':
          await dest.query(
            upsertSql({
              target,
              staging: plan.staging,
              columns,
              key: plan.target.uniqueKey,
              overridingSystemValue: over,
            }),
          );
          break;
        case 'history':
          for (const sql of historyMergeSql({
            target,
            staging: plan.staging,
            columns: [...plan.mapping.copied, ...plan.mapping.computed],
            key: historyKey(plan.source, plan.target, plan.mapping.copied),
            sid,
            time: plan.historyTime.toISOString(),
            overridingSystemValue: over,
          })) {
            await dest.query(sql);
          }
          break;
      }
      await dest.query(`DROP TABLE ${plan.staging}`);
    }
    await ctx.store.finish(dest, plan.key);
    const stored = await ctx.store.load(dest, plan.key);
    await checkFence(ctx, dest);
    await dest.query('COMMIT');
    if (!stored) throw new CopySyncError('metadata_failed', 'copy state vanished while finishing');
    return stored;
  } catch (e: unknown) {
    await dest.query('ROLLBACK').catch(() => {});
    throw tableError(
      ctx,
      'destination',
      e,
      rowsCopied,
      plan.staging ? 'merging the staged rows' : 'finishing',
    );
  } finally {
    dest.release();
  }
}

function resultOf(s: StoredTable, resumed: boolean, alreadySynced: boolean): TableSyncResult {
  return {
    table: s.table,
    target: s.target,
    type: s.type,
    rows: s.rows,
    bytes: s.bytes,
    skipBefore: s.skipBefore,
    ...(s.reconcileBefore === undefined ? {} : { reconcileBefore: s.reconcileBefore }),
    resumed,
    alreadySynced,
  };
}
