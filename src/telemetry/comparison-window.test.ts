import { describe, expect, it } from 'vitest';
import { ComparisonWindow } from './comparison-window.js';
import type { ComparisonSample } from '../telemetry-wire/telemetry-batch.js';

const answer = { status: 200, headers: {}, body: 'x', bodyBytes: 1 };

function sample(paths: string[], withExamples = true): ComparisonSample {
  return {
    service: 'reviews',
    release: 'r',
    requests: paths.length,
    mirrored: paths.length,
    compared: paths.length,
    agree: 0,
    skipped: { bodyTooLarge: 0, mirrorFailed: 0, overloaded: 0, primaryFailed: 0 },
    differences: paths.map((path) => ({
      kind: 'body' as const,
      method: 'GET',
      path,
      field: '$.a',
      primary: '1',
      mirror: '2',
      count: 1,
      example: withExamples ? { primary: answer, mirror: answer } : null,
    })),
    otherDifferences: 0,
    primaryLatency: [],
    mirrorLatency: [],
  };
}

describe('ComparisonWindow', () => {
  it('keeps a bounded number of difference keys and examples, counting the rest', () => {
    const w = new ComparisonWindow({ maxKeys: 10, examplesPerKey: 2 });
    const t0 = 1_000_000_000_000;
    for (let i = 0; i < 100; i++) w.add([sample([`/p/${i}`, `/p/${i}`, '/hot'])], t0 + i);
    const r = w.report('r', 300, t0 + 100);
    expect(r.differences).toHaveLength(10);
    expect(r.differences[0]).toMatchObject({ path: '/hot', count: 100 });
    // Every difference is counted somewhere: 300 in all.
    expect(r.differences.reduce((n, d) => n + d.count, 0) + r.otherDifferences).toBe(300);
    expect(w.exampleKeys).toBeLessThanOrEqual(10);
  });

  it('reports only the window asked for and forgets what is older than it keeps', () => {
    const w = new ComparisonWindow({ seconds: 60, bucketSeconds: 5 });
    const t0 = 1_000_000_000_000;
    w.add([sample(['/old'])], t0);
    w.add([sample(['/new'])], t0 + 30_000);
    expect(w.report('r', 10, t0 + 30_000).differences.map((d) => d.path)).toEqual(['/new']);
    expect(w.report('r', 60, t0 + 30_000).requests).toBe(2);
    // 70 s later the old bucket is gone, and with it its example.
    w.add([sample(['/later'], false)], t0 + 100_000);
    expect(w.report('r', 60, t0 + 100_000).requests).toBe(1);
    expect(w.exampleKeys).toBe(0);
    expect(w.report('nosuch', 60, t0).requests).toBe(0);
  });
});
