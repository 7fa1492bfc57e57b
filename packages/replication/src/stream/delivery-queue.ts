import type { TransactionPart } from '../types.js';
import type { ReplaySource } from './replay-source.js';

export type QueueItem =
  | { kind: 'part'; part: TransactionPart; gen: number }
  | { kind: 'replay'; source: ReplaySource; gen: number };

/**
 * What was received and not yet handed to the consumer, in commit order:
 * ready parts and committed streamed transactions to replay. `onFull` fires
 * when it reaches `max` items (the socket is paused), `onRoom` when it drops
 * below again. Each replication session has a generation: `clear()` (a
 * reconnect) drops everything and starts a new one, so late results of the
 * old session are recognised and ignored.
 */
export class DeliveryQueue {
  gen = 0;
  private items: QueueItem[] = [];
  private waiter: (() => void) | undefined;

  constructor(
    private readonly max: number,
    private readonly onFull: () => void,
    private readonly onRoom: () => void,
  ) {}

  get length(): number {
    return this.items.length;
  }

  get head(): QueueItem | undefined {
    return this.items[0];
  }

  push(item: QueueItem): void {
    this.items.push(item);
    if (this.items.length >= this.max) this.onFull();
    this.wake();
  }

  shift(): void {
    this.items.shift();
    if (this.items.length < this.max) this.onRoom();
  }

  /** Drops everything (replay sources and their spill files included) and starts a new generation. */
  clear(): number {
    for (const item of this.items) if (item.kind === 'replay') item.source.dispose();
    this.items = [];
    return ++this.gen;
  }

  /** Resolves at the next `push`, or `wake`. */
  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
