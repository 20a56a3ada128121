/** FNV-1a (32-bit) over the UTF-16 code units of `value`: fast, allocation-free, well spread for short keys. */
export function fnv1a(value: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Picks one of several choices by integer weight. `next()` is nginx's smooth weighted round-robin: exact over
 * every window of sum(weights) picks (1000 picks at 30/70 give 300/700) and interleaved rather than bursty.
 * `sticky(key)` hashes the key to a point on 0..99 and maps it onto the cumulative weights, so one key keeps one
 * choice for as long as the weights stand. Choices of weight 0 are never picked by either.
 */
export class WeightedPicker<T> {
  private readonly choices: T[];
  private readonly weights: Int32Array;
  private readonly current: Int32Array;
  private readonly total: number;
  /** Choice index for each point 0..99 of the sticky hash; built lazily, only for sticky rules. */
  private slots: Uint16Array | null = null;

  constructor(weighted: ReadonlyArray<{ choice: T; weight: number }>) {
    const positive = weighted.filter((w) => w.weight > 0);
    this.choices = positive.map((w) => w.choice);
    this.weights = Int32Array.from(positive.map((w) => w.weight));
    this.current = new Int32Array(positive.length);
    this.total = positive.reduce((sum, w) => sum + w.weight, 0);
  }

  get size(): number {
    return this.choices.length;
  }

  /** The next choice by smooth weighted round-robin, or undefined when every weight is 0. */
  next(): T | undefined {
    const n = this.choices.length;
    if (n === 1) return this.choices[0];
    if (n === 0) return undefined;
    const current = this.current;
    const weights = this.weights;
    let best = 0;
    for (let i = 0; i < n; i++) {
      current[i]! += weights[i]!;
      if (current[i]! > current[best]!) best = i;
    }
    current[best]! -= this.total;
    return this.choices[best];
  }

  /** The choice for a sticky key: the same key gives the same choice while the weights stand. */
  sticky(key: string): T | undefined {
    const n = this.choices.length;
    if (n <= 1) return this.choices[0];
    if (this.slots === null) this.slots = this.buildSlots();
    const slots = this.slots;
    return this.choices[slots[fnv1a(key) % slots.length]!];
  }

  private buildSlots(): Uint16Array {
    // One slot per unit of weight (weights sum to 100 in valid rules), in choice order.
    const slots = new Uint16Array(this.total);
    let at = 0;
    for (let i = 0; i < this.weights.length; i++) for (let w = 0; w < this.weights[i]!; w++) slots[at++] = i;
    return slots;
  }
}
