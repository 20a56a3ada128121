import type { LogLine } from '../workload-runtime.js';

/** A bounded ring of log lines: keeps the newest `capacity` lines, drops the oldest. */
export class LogRing {
  private readonly lines: (LogLine | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`logLines: must be a positive integer, got ${capacity}`);
    this.lines = new Array(capacity);
  }

  push(line: LogLine): void {
    this.lines[this.next] = line;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  get size(): number {
    return this.count;
  }

  /** The kept lines, oldest first. */
  toArray(): LogLine[] {
    const out: LogLine[] = [];
    const start = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) out.push(this.lines[(start + i) % this.capacity]!);
    return out;
  }
}
