import type { RelationCache, RelationMessage } from '@kuvasz/pgoutput';
import type { SpillDir } from './spill-dir.js';
import { type MemoryBudget, SpillLog } from './spill-log.js';

interface SubxactMark {
  /** Log size when the subtransaction's first message arrived. */
  offset: number;
  changes: number;
  messages: number;
  /** Length of the relation overlay history at that moment. */
  history: number;
}

/**
 * An in-progress transaction streamed in chunks (protocol v2+): its messages
 * in a spill log, the relation versions they refer to, and the relation
 * messages it carried (which stay private to it until it commits, as
 * pgoutput expects of a subscriber).
 */
export class StreamedTransaction {
  readonly log: SpillLog;
  /** Relation versions referenced by the log's records (by index). */
  readonly relations: RelationMessage[] = [];
  changes = 0;
  messages = 0;
  /** Replication origin, when an Origin message came in its first chunk. */
  origin: string | undefined = undefined;
  private readonly relIndex = new Map<RelationMessage, number>();
  private readonly overlay = new Map<number, RelationMessage>();
  private readonly history: { oid: number; prev: RelationMessage | undefined }[] = [];
  private readonly subxacts = new Map<number, SubxactMark>();

  constructor(
    readonly xid: number,
    budget: MemoryBudget,
    dir: SpillDir,
  ) {
    this.log = new SpillLog(budget, () => dir.fileFor(xid));
  }

  /** Remembers where a subtransaction starts, so that its abort can cut it out. */
  private note(xid: number | undefined): void {
    if (xid === undefined || xid === this.xid || this.subxacts.has(xid)) return;
    this.subxacts.set(xid, {
      offset: this.log.size,
      changes: this.changes,
      messages: this.messages,
      history: this.history.length,
    });
  }

  setRelation(rel: RelationMessage): void {
    this.note(rel.xid);
    this.history.push({ oid: rel.relationOid, prev: this.overlay.get(rel.relationOid) });
    this.overlay.set(rel.relationOid, rel);
  }

  /** The relation a change of this transaction refers to: its own version first. */
  resolve(oid: number, global: RelationCache): RelationMessage | undefined {
    return this.overlay.get(oid) ?? global.get(oid);
  }

  appendChange(xid: number | undefined, rels: RelationMessage[], raw: Uint8Array): void {
    this.note(xid);
    this.log.append(
      rels.map((r) => this.indexOf(r)),
      raw,
    );
    this.changes++;
  }

  appendMessage(xid: number | undefined, raw: Uint8Array): void {
    this.note(xid);
    this.log.append([], raw);
    this.messages++;
  }

  /**
   * Drops an aborted subtransaction: everything from its first message on
   * (its nested subtransactions come after it and abort with it), as
   * PostgreSQL's own apply worker does. False when it sent nothing.
   */
  abortSubxact(subXid: number): boolean {
    const mark = this.subxacts.get(subXid);
    if (!mark) return false;
    this.log.truncate(mark.offset);
    this.changes = mark.changes;
    this.messages = mark.messages;
    while (this.history.length > mark.history) {
      const h = this.history.pop();
      if (!h) break;
      if (h.prev) this.overlay.set(h.oid, h.prev);
      else this.overlay.delete(h.oid);
    }
    let after = false;
    for (const [xid] of this.subxacts) {
      if (xid === subXid) after = true;
      if (after) this.subxacts.delete(xid);
    }
    return true;
  }

  /** At commit: the relation versions it sent become everyone's. */
  publishRelations(global: RelationCache): void {
    for (const rel of this.overlay.values()) global.set(rel);
  }

  dispose(): void {
    this.log.dispose();
  }

  private indexOf(rel: RelationMessage): number {
    let i = this.relIndex.get(rel);
    if (i === undefined) {
      i = this.relations.length;
      this.relations.push(rel);
      this.relIndex.set(rel, i);
    }
    return i;
  }
}

/** The open streamed transactions of one replication session. */
export class StreamedTransactions {
  private readonly open = new Map<number, StreamedTransaction>();

  constructor(
    private readonly budget: MemoryBudget,
    private readonly dir: SpillDir,
  ) {}

  get size(): number {
    return this.open.size;
  }

  get(xid: number): StreamedTransaction | undefined {
    return this.open.get(xid);
  }

  getOrCreate(xid: number): StreamedTransaction {
    let tx = this.open.get(xid);
    if (!tx) {
      tx = new StreamedTransaction(xid, this.budget, this.dir);
      this.open.set(xid, tx);
    }
    return tx;
  }

  /** Removes the transaction from the open set (it committed); the caller disposes it. */
  take(xid: number): StreamedTransaction | undefined {
    const tx = this.open.get(xid);
    this.open.delete(xid);
    return tx;
  }

  abort(xid: number): boolean {
    const tx = this.take(xid);
    tx?.dispose();
    return tx !== undefined;
  }

  disposeAll(): void {
    for (const tx of this.open.values()) tx.dispose();
    this.open.clear();
  }
}
