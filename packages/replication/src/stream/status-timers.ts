/**
 * When standby status updates go out: every `intervalMs` while a session
 * streams, and soon (within `min(1 s, intervalMs)`) after the flushed
 * position moved, coalesced so a burst of acks costs one update.
 */
export class StatusTimers {
  private periodic: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly send: () => void,
  ) {}

  start(): void {
    this.stop();
    this.periodic = setInterval(this.send, this.intervalMs);
    this.periodic.unref();
  }

  /** One update shortly, unless one is already scheduled. */
  schedule(): void {
    if (this.soon) return;
    this.soon = setTimeout(
      () => {
        this.soon = undefined;
        this.send();
      },
      Math.min(1000, this.intervalMs),
    );
    this.soon.unref();
  }

  stop(): void {
    if (this.periodic) clearInterval(this.periodic);
    if (this.soon) clearTimeout(this.soon);
    this.periodic = undefined;
    this.soon = undefined;
  }
}
