import { describe, expect, it } from 'vitest';
import { fnv1a, WeightedPicker } from './weighted-picker.js';

const picker = (w: Record<string, number>) => new WeightedPicker(Object.entries(w).map(([choice, weight]) => ({ choice, weight })));

describe('WeightedPicker', () => {
  it('interleaves picks instead of sending bursts (smooth weighted round-robin)', () => {
    const p = picker({ v1: 30, v2: 70 });
    const seq = Array.from({ length: 100 }, () => p.next()).join(' ');
    // At 30/70 a burst of v2 is at most three long, and v1 never comes twice in a row.
    expect(seq.startsWith('v2 v1 v2 v2 v1 v2')).toBe(true);
    expect(seq).not.toContain('v2 v2 v2 v2');
    expect(seq).not.toContain('v1 v1');
  });

  it('is exact over every window of 100 picks', () => {
    const p = picker({ a: 33, b: 33, c: 34 });
    for (let window = 0; window < 5; window++) {
      const counts: Record<string, number> = {};
      for (let i = 0; i < 100; i++) {
        const v = p.next()!;
        counts[v] = (counts[v] ?? 0) + 1;
      }
      expect(counts).toEqual({ a: 33, b: 33, c: 34 });
    }
  });

  it('moving the weights moves only the sticky users of the slice that changed hands', () => {
    const before = picker({ v1: 90, v2: 10 });
    const after = picker({ v1: 80, v2: 20 });
    let moved = 0;
    for (let i = 0; i < 2000; i++) {
      const user = `user-${i}`;
      const was = before.sticky(user);
      const now = after.sticky(user);
      if (was === 'v2') expect(now, user).toBe('v2');
      if (was !== now) moved++;
    }
    // About 10% of users change version (from v1 to v2), nobody goes the other way.
    expect(moved).toBeGreaterThan(120);
    expect(moved).toBeLessThan(280);
  });

  it('spreads sticky keys by weight and never onto weight 0', () => {
    const p = picker({ v1: 0, v2: 25, v3: 75 });
    const counts: Record<string, number> = {};
    for (let i = 0; i < 4000; i++) {
      const v = p.sticky(`session-${i}`)!;
      counts[v] = (counts[v] ?? 0) + 1;
    }
    expect(counts.v1).toBeUndefined();
    expect(counts.v2! / 4000).toBeGreaterThan(0.2);
    expect(counts.v2! / 4000).toBeLessThan(0.3);
  });

  it('hashes with FNV-1a', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });
});
