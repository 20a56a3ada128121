/**
 * The timers of finishing releases: a finish waits out the drain grace period (proxies apply the single-version
 * table and requests in flight end) before the other version retires. `close` cancels the pending ones and ends
 * the waits at once.
 */
export class DrainTimers {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters = new Set<() => void>();

  /** Resolves after `ms`, or as soon as `close` is called. */
  wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.waiters.delete(resolve);
        resolve();
      }, ms);
      this.timers.add(t);
      this.waiters.add(resolve);
    });
  }

  /** Runs `fn` after `ms` unless `close` comes first. */
  after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const resolve of this.waiters) resolve();
    this.waiters.clear();
  }
}
