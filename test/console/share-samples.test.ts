import { describe, expect, it } from 'vitest';
import { historySamples, mergeSamples, type ObservedHistory, type ShareSample } from '../../web/src/release/share-samples.js';

/** What the release page's chart draws: the observed history in percent, then the live polls after it. */
const history: ObservedHistory = {
  release: 'reviews-canary',
  service: 'reviews',
  minutes: 15,
  bucketSeconds: 10,
  versions: ['v1', 'v2', 'v3'],
  weights: { v1: 50, v2: 50 },
  points: [
    {
      at: '2026-11-27T02:40:10.000Z',
      requests: 0,
      versions: {
        v1: { requests: 0, rps: 0, share: null, successRate: null },
        v2: { requests: 0, rps: 0, share: null, successRate: null },
      },
      weights: null,
    },
    {
      at: '2026-11-27T02:40:20.000Z',
      requests: 30,
      versions: {
        v1: { requests: 10, rps: 1, share: 0.333, successRate: 1 },
        v2: { requests: 20, rps: 2, share: 0.667, successRate: 0.95 },
      },
      weights: { v1: 50, v2: 50 },
    },
  ],
};

describe('share chart samples', () => {
  it('turns history points into percentages per version, gaps as null, weights as given', () => {
    const s = historySamples(history, ['v1', 'v2']);
    expect(s).toEqual([
      { at: Date.parse('2026-11-27T02:40:10.000Z'), observed: { v1: null, v2: null }, configured: null },
      { at: Date.parse('2026-11-27T02:40:20.000Z'), observed: { v1: 33.3, v2: 66.7 }, configured: { v1: 50, v2: 50 } },
    ]);
    expect(historySamples(undefined, ['v1'])).toEqual([]);
  });

  it('keeps the whole history, then the live samples after its last point, in time order', () => {
    const past = historySamples(history, ['v1', 'v2']);
    const live: ShareSample[] = [
      { at: Date.parse('2026-11-27T02:40:15.000Z'), observed: { v1: 50, v2: 50 }, configured: { v1: 50, v2: 50 } },
      { at: Date.parse('2026-11-27T02:40:25.000Z'), observed: { v1: 50, v2: 50 }, configured: { v1: 50, v2: 50 } },
    ];
    // The poll at :15 lies inside the history (its last point ends at :20): the history's figure stands.
    const merged = mergeSamples(past, live);
    expect(merged.map((s) => s.at)).toEqual([past[0]!.at, past[1]!.at, live[1]!.at]);
    expect(mergeSamples(past, [])).toEqual(past);
    expect(mergeSamples([], live)).toEqual(live);
  });
});
