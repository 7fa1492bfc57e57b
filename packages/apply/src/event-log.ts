import type { Logger } from '@kuvasz/core';
import { formatLsn } from '@kuvasz/core';
import type { AppliedEvent } from './executor/executor.js';
import { describeKey } from './planner/shape.js';

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
 * be rebuilt) with the key, never the row. `events` are the first ones of a
 * destination transaction worth a line (quiet reconcile changes only when
 * they cannot be materialized, see GroupTally); `more` counts the rest.
 */
export function logEvents(log: Logger, events: AppliedEvent[], more: number): void {
  for (const e of events) {
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
  if (more > 0) {
    log.warn({ more }, 'further conflicts in this group not logged one by one (see the counters)');
  }
}
