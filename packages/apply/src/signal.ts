/** Wakes every waiter on `notify()`; waiters re-check their own condition. */
export class Signal {
  private waiters: (() => void)[] = [];

  wait(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      this.waiters.push(done);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== done);
          resolve();
        }, timeoutMs);
      }
    });
  }

  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
