import type { LanePositions, Position } from '../metadata/position-store.js';
import { identity, type PlanItem } from '../planner/plan-units.js';

/**
 * Upgrading in place from the engine before ordered apply. That engine spread
 * a table's changes over key-hash lanes and stored, per (source, target,
 * lane), the position up to which that lane held the source's changes; after
 * a crash, lanes of one table could stand at different positions. Until the
 * replay has passed every stored lane position, each change is checked
 * against the position of the lane that engine routed it to, and skipped
 * when that lane already holds it: nothing is applied twice, nothing is
 * re-copied.
 */
export class LegacyPositions {
  /** Past this commit LSN no lane holds anything: the filter is done. */
  readonly lastLsn: bigint;

  constructor(private readonly byTarget: Map<string, LanePositions>) {
    let last = 0n;
    for (const p of byTarget.values())
      for (const pos of p.byLane.values()) if (pos.lsn > last) last = pos.lsn;
    this.lastLsn = last;
  }

  /** Lane positions of one target (`schema\0table`), if that engine stored any. */
  of(targetKey: string): LanePositions | undefined {
    return this.byTarget.get(targetKey);
  }
}

/** FNV-1a, as the lane router hashed keys. */
export function laneHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The lane the old router gave a change: by hash of its key; lane 0 for what
 * it ordered across lanes (a truncate, a key change, REPLICA IDENTITY FULL).
 * (It also ordered a change of relation shape that way; a replay cannot tell,
 * and routes such a change by its key.)
 */
export function legacyLane<R>(
  item: PlanItem<R>,
  lanes: number,
): { lane: number; barrier: boolean } {
  if (lanes === 1) return { lane: 0, barrier: false };
  if (item.op === 'truncate') return { lane: 0, barrier: true };
  if (item.shape.full) return { lane: 0, barrier: false };
  const newId = item.op !== 'delete' ? identity(item.shape, item.newT) : undefined;
  const key = item.op === 'insert' ? newId! : identity(item.shape, item.whereT);
  if (item.op === 'update' && key !== newId) return { lane: 0, barrier: true };
  return { lane: laneHash(key) % lanes, barrier: false };
}

export function covered(pos: Position | undefined, lsn: bigint, index: number): boolean {
  if (!pos) return false;
  return lsn < pos.lsn || (lsn === pos.lsn && index < pos.nextIndex);
}

/**
 * Which of one unit's changes of one transaction the old engine already
 * applied. A history transaction with any change ordered across lanes went
 * whole to lane 0.
 */
export function coveredByLanes<R>(
  items: { item: PlanItem<R>; lsn: bigint; index: number }[],
  positions: LanePositions,
  history: boolean,
): boolean[] {
  const lanes = items.map((x) => legacyLane(x.item, positions.lanes));
  const whole = history && lanes.some((l) => l.barrier);
  return items.map((x, i) =>
    covered(positions.byLane.get(whole ? 0 : lanes[i]!.lane), x.lsn, x.index),
  );
}
