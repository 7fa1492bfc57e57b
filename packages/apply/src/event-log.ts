import type { Logger } from '@kuvasz/core';
import { formatLsn } from '@kuvasz/core';
import type { AppliedEvent } from './executor/executor.js';
import { describeKey } from './planner/shape.js';

const LOG_EVENTS_PER_BATCH = 20;

const EVENT_MESSAGES = {
  insert_conflict: 'insert of a key that already exists: kept the existing row',
  update_missing: 'update of a missing row: inserted it from the new values',
  delete_missing: 'delete of a missing row: nothing to delete',
  unmaterializable:
    'update of a missing row with unchanged TOAST values: the row cannot be rebuilt, skipped',
} as const;

const HISTORY_EVENT_MESSAGES = {
  insert_conflict: 'insert of a key that has an open version: kept the open version',
  update_missing: 'update of a key with no open version: opened a new version',
  delete_missing: 'delete of a key with no open version: nothing to close',
  unmaterializable:
    'update with unchanged TOAST values and no previous version to copy them from: version skipped',
} as const;

/**
 * Logs what the spec wants logged (conflicts, missing rows, rows that cannot
 * be rebuilt) with the key, never the row; quiet (reconcile) changes only
 * when they cannot be materialized. At most LOG_EVENTS_PER_BATCH lines.
 */
export function logEvents(log: Logger, events: AppliedEvent[]): void {
  let logged = 0;
  for (const e of events) {
    if (e.op.quiet && e.kind !== 'unmaterializable') continue;
    if (logged++ >= LOG_EVENTS_PER_BATCH) continue;
    const change = e.op.refs[e.op.refs.length - 1]!;
    const msgs = e.unit.target.type === 'history' ? HISTORY_EVENT_MESSAGES : EVENT_MESSAGES;
    const fields = {
      source: e.unit.source.label,
      table: e.unit.target.display,
      key: describeKey(e.shape, e.op.whereT ?? e.op.newT),
      lsn: formatLsn(change.lsn),
      changeIndex: change.index,
    };
    if (e.kind === 'unmaterializable') log.error(fields, msgs[e.kind]);
    else log.warn(fields, msgs[e.kind]);
  }
  if (logged > LOG_EVENTS_PER_BATCH) {
    log.warn(
      { more: logged - LOG_EVENTS_PER_BATCH },
      'further conflicts in this group not logged one by one (see the counters)',
    );
  }
}
