import { describe, expect, it } from 'vitest';
import { ObservedHistory } from './observed-history.js';
import { edgeSample } from '../../test/support/telemetry-fixtures.js';

const edge = edgeSample;

/** A clock that starts on a bucket boundary and moves only when told. */
function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms), at: () => t };
}

describe('ObservedHistory', () => {
  it('folds batches into 10-s points per version with rate, share and success', () => {
    const c = clock();
    const h = new ObservedHistory({ now: c.now });
    // 10 s of a 50/50 split at 10 req/s from two callers, then 10 s of 80/20 with v2 failing a quarter.
    for (let s = 0; s < 10; s++) {
      h.add([edge('reviews:v1', 200, 3, 'productpage:v1'), edge('reviews:v1', 200, 2), edge('reviews:v2', 200, 5)]);
      c.advance(1000);
    }
    for (let s = 0; s < 10; s++) {
      h.add([edge('reviews:v1', 200, 8), edge('reviews:v2', 200, 3), edge('reviews:v2', 503, 1)]);
      c.advance(1000);
    }
    c.advance(1);
    const r = h.series('reviews', 15, ['v1', 'v2']);
    expect(r.bucketSeconds).toBe(10);
    expect(r.versions).toEqual(['v1', 'v2']);
    expect(r.points).toHaveLength(2);
    const [a, b] = r.points as [(typeof r.points)[0], (typeof r.points)[0]];
    expect(a.at).toBe(new Date(1_700_000_010_000).toISOString());
    expect(a.requests).toBe(100);
    expect(a.versions).toEqual({
      v1: { requests: 50, rps: 5, share: 0.5, successRate: 1 },
      v2: { requests: 50, rps: 5, share: 0.5, successRate: 1 },
    });
    expect(b.at).toBe(new Date(1_700_000_020_000).toISOString());
    expect(b.versions.v1).toEqual({ requests: 80, rps: 8, share: 0.667, successRate: 1 });
    expect(b.versions.v2).toEqual({ requests: 40, rps: 4, share: 0.333, successRate: 0.75 });
  });

  it('keeps gaps as points without traffic, lists asked-for versions, and includes the bucket filling now', () => {
    const c = clock();
    const h = new ObservedHistory({ now: c.now });
    h.add([edge('reviews:v1', 200, 10), edge('reviews:v3', 500, 2), edge('ratings:v1', 200, 99)]);
    c.advance(30_000); // two empty buckets, then traffic in the current one
    h.add([edge('reviews:v1', 200, 4)]);
    c.advance(2000);
    const r = h.series('reviews', 5, ['v1', 'v2']);
    expect(r.versions).toEqual(['v1', 'v2', 'v3']);
    expect(r.points.map((p) => p.requests)).toEqual([12, 0, 0, 4]);
    expect(r.points[0]!.versions.v2).toEqual({ requests: 0, rps: 0, share: 0, successRate: null });
    expect(r.points[0]!.versions.v3).toEqual({ requests: 2, rps: 0.2, share: 0.167, successRate: 0 });
    expect(r.points[1]!.versions.v1).toEqual({ requests: 0, rps: 0, share: null, successRate: null });
    // The current bucket: 2 s old, so 4 requests read 2 req/s, and its point ends now.
    const last = r.points[3]!;
    expect(last.at).toBe(new Date(c.at()).toISOString());
    expect(last.versions.v1!.rps).toBe(2);
    // Times strictly increase.
    const times = r.points.map((p) => Date.parse(p.at));
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(new Set(times).size).toBe(times.length);
  });

  it('answers nothing for a service without traffic, and skips samples without a destination version', () => {
    const c = clock();
    const h = new ObservedHistory({ now: c.now });
    h.add([edge(null, 404, 5), edge('reviews', 503, 3)]);
    c.advance(10_000);
    expect(h.series('reviews', 60).points).toEqual([]);
    expect(h.series('nothing', 60, ['v1'])).toEqual({ service: 'nothing', bucketSeconds: 10, versions: ['v1'], points: [] });
  });

  it('forgets what is older than the range asked for, and what is older than it keeps', () => {
    const c = clock();
    const h = new ObservedHistory({ now: c.now, minutes: 5 });
    h.add([edge('reviews:v1', 200, 1)]);
    c.advance(3 * 60_000);
    h.add([edge('reviews:v2', 200, 1)]);
    c.advance(1000);
    expect(h.series('reviews', 1).points[0]!.versions).toMatchObject({ v2: { requests: 1 } });
    expect(h.series('reviews', 1).points).toHaveLength(1);
    expect(h.series('reviews', 5).points).toHaveLength(19);
    // Asking for more than it keeps answers what it keeps.
    expect(h.series('reviews', 60).points).toHaveLength(19);
    c.advance(3 * 60_000);
    // The v1 sample is now 6 minutes old: gone, though its ring slot may not have been reused yet.
    const r = h.series('reviews', 60);
    expect(r.versions).toEqual(['v2']);
    expect(r.points[0]!.versions.v2!.requests).toBe(1);
    c.advance(3 * 60_000);
    expect(h.series('reviews', 60).points).toEqual([]);
  });

  it('places replayed samples in their own bucket, and ignores the future and what is past its range', () => {
    const c = clock();
    const h = new ObservedHistory({ now: c.now, minutes: 5 });
    c.advance(10 * 60_000);
    h.add([edge('reviews:v1', 200, 6)], c.at() - 60_000);
    h.add([edge('reviews:v1', 200, 1)], c.at() + 60_000);
    h.add([edge('reviews:v1', 200, 1)], c.at() - 6 * 60_000);
    const r = h.series('reviews', 5);
    expect(r.points[0]).toMatchObject({ at: new Date(c.at() - 50_000).toISOString(), requests: 6 });
    expect(r.points.reduce((n, p) => n + p.requests, 0)).toBe(6);
  });

  it('stays bounded: a full hour of buckets reuses the ring, and a bucket caps its series', () => {
    const c = clock();
    const h = new ObservedHistory({ now: c.now, maxSeriesPerBucket: 3 });
    for (let i = 0; i < 2 * 360; i++) {
      h.add([edge('reviews:v1', 200, 1), edge('reviews:v2', 200, 1)]);
      c.advance(10_000);
    }
    const r = h.series('reviews', 60);
    expect(r.points).toHaveLength(360);
    expect(r.points.every((p) => p.requests === 2)).toBe(true);
    h.add([edge('a:v1', 200, 1), edge('b:v1', 200, 1), edge('c:v1', 200, 1), edge('d:v1', 200, 7), edge('a:v1', 200, 1)]);
    expect(h.droppedSamples).toBe(7);
    c.advance(1);
    expect(h.series('a', 1).points.at(-1)!.requests).toBe(2);
    expect(h.series('d', 1).points).toEqual([]);
  });
});
