import { Signal } from './signal.js';

/** A sync point across the lanes of one table (see BarrierEntry). */
export class Barrier {
  private readonly arrived = new Set<number>();
  private readonly signal = new Signal();
  released = false;
  cancelled = false;

  constructor(readonly lanes: number) {}

  arrive(lane: number): void {
    this.arrived.add(lane);
    this.signal.notify();
  }

  release(): void {
    this.released = true;
    this.signal.notify();
  }

  /** The source failed or was reset: nobody waits any longer. */
  cancel(): void {
    this.cancelled = true;
    this.signal.notify();
  }

  /** Waits until every lane arrived (or cancel / stop); true when it may proceed. */
  async waitAll(stop: () => boolean): Promise<boolean> {
    while (this.arrived.size < this.lanes && !this.cancelled && !stop())
      await this.signal.wait(100);
    return this.arrived.size >= this.lanes && !this.cancelled && !stop();
  }

  async waitRelease(stop: () => boolean): Promise<void> {
    while (!this.released && !this.cancelled && !stop()) await this.signal.wait(100);
  }
}
