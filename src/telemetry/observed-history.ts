import type { EdgeSample } from '../telemetry-wire/telemetry-batch.js';

export interface ObservedHistoryOptions {
  /** Width of a point, seconds; default 10. */
  bucketSeconds?: number;
  /** How far back it remembers, minutes; default 60. */
  minutes?: number;
  /** Most (service, version) series one bucket keeps; samples of further series are dropped; default 4096. */
  maxSeriesPerBucket?: number;
  now?: () => number;
}

/** What one version of a service got during one point. */
export interface VersionPoint {
  requests: number;
  /** Requests per second over the point. */
  rps: number;
  /** Fraction (0..1) of the service's requests in the point; null when the service got none. */
  share: number | null;
  /** Fraction (0..1) of its requests not answered 5xx (or left unanswered); null without requests. */
  successRate: number | null;
}

export interface HistoryPoint {
  /** End of the interval the point covers (ISO time); the last point may cover less (the bucket filling now). */
  at: string;
  /** Requests the service got in the point, over all versions. */
  requests: number;
  versions: Record<string, VersionPoint>;
}

export interface ServiceHistory {
  service: string;
  bucketSeconds: number;
  /** Versions in every point: the ones asked for first, then any other that got traffic, by name. */
  versions: string[];
  /** In time order, one per bucket from the first one with traffic in the range to now; empty without traffic. */
  points: HistoryPoint[];
}

interface Counts {
  requests: number;
  failures: number;
}

interface Bucket {
  /** Bucket number: floor(epoch ms / bucket width); -1 when unused. */
  index: number;
  series: number;
  services: Map<string, Map<string, Counts>>;
}

const round = (v: number, places: number) => {
  const f = 10 ** places;
  return Math.round(v * f) / f;
};

/**
 * A bounded history of what each version of each service received: a ring of fixed-width buckets (default one
 * per 10 s for 60 minutes), each holding request and failure counts per (service, version). It folds the edge
 * samples of the proxies' batches (already aggregated per second), so its cost is per batch edge, never per
 * request, and its memory is bounded by the ring's length times the series cap.
 */
export class ObservedHistory {
  readonly bucketSeconds: number;
  /** The longest range it can answer, minutes. */
  readonly minutes: number;
  private readonly bucketMs: number;
  private readonly ring: Bucket[];
  private readonly maxSeries: number;
  private readonly now: () => number;
  private dropped = 0;

  constructor(options: ObservedHistoryOptions = {}) {
    this.bucketSeconds = options.bucketSeconds ?? 10;
    this.minutes = options.minutes ?? 60;
    if (!(this.bucketSeconds >= 1) || !(this.minutes >= 1)) throw new RangeError('bucketSeconds and minutes must be at least 1');
    this.bucketMs = this.bucketSeconds * 1000;
    // The buckets of the whole range plus the one filling now.
    const n = Math.ceil((this.minutes * 60) / this.bucketSeconds) + 1;
    this.ring = Array.from({ length: n }, () => ({ index: -1, series: 0, services: new Map() }));
    this.maxSeries = options.maxSeriesPerBucket ?? 4096;
    this.now = options.now ?? Date.now;
  }

  /** Samples dropped because a bucket already held `maxSeriesPerBucket` series. */
  get droppedSamples(): number {
    return this.dropped;
  }

  /**
   * Adds a batch's edge samples to the bucket of now (the time the control plane received them, as the topology
   * does, so proxies' clocks do not matter). Samples without a destination version (no route, no endpoint) say
   * nothing about a split and are skipped. `atMs` places them elsewhere in time (replaying recorded batches).
   */
  add(edges: readonly EdgeSample[], atMs = this.now()): void {
    if (edges.length === 0) return;
    const index = Math.floor(atMs / this.bucketMs);
    const current = Math.floor(this.now() / this.bucketMs);
    if (index > current || index <= current - this.ring.length) return; // the future, or past what it keeps
    const bucket = this.ring[index % this.ring.length]!;
    if (bucket.index !== index) {
      bucket.index = index;
      bucket.series = 0;
      bucket.services.clear();
    }
    for (const e of edges) {
      const d = e.destination;
      if (d === null || d.version === '') continue;
      let versions = bucket.services.get(d.service);
      let counts = versions?.get(d.version);
      if (counts === undefined) {
        if (bucket.series >= this.maxSeries) {
          this.dropped += e.count;
          continue;
        }
        if (versions === undefined) {
          versions = new Map();
          bucket.services.set(d.service, versions);
        }
        counts = { requests: 0, failures: 0 };
        versions.set(d.version, counts);
        bucket.series++;
      }
      counts.requests += e.count;
      // As the topology counts success: 5xx and no answer at all (code 0) are failures.
      if (e.code >= 500 || e.code < 100) counts.failures += e.count;
    }
  }

  /**
   * The service's points over the last `minutes` (clamped to what it keeps), in time order. `versions` are
   * listed in every point even without traffic (a release's baseline and candidate).
   */
  series(service: string, minutes: number, versions: readonly string[] = []): ServiceHistory {
    const now = this.now();
    const current = Math.floor(now / this.bucketMs);
    const span = Math.ceil((Math.max(1, Math.min(minutes, this.minutes)) * 60) / this.bucketSeconds);
    const byIndex = new Map<number, Map<string, Counts>>();
    let first = Number.POSITIVE_INFINITY;
    for (const b of this.ring) {
      if (b.index < current - span || b.index > current) continue;
      const s = b.services.get(service);
      if (s === undefined) continue;
      byIndex.set(b.index, s);
      if (b.index < first) first = b.index;
    }
    const names = [...versions];
    const others = new Set<string>();
    for (const s of byIndex.values()) for (const v of s.keys()) if (!versions.includes(v)) others.add(v);
    names.push(...[...others].sort());
    const points: HistoryPoint[] = [];
    if (byIndex.size === 0) return { service, bucketSeconds: this.bucketSeconds, versions: names, points };
    // The bucket filling now only when it already holds traffic: an empty one would read as traffic stopping.
    const last = byIndex.has(current) ? current : current - 1;
    for (let i = first; i <= last; i++) {
      const s = byIndex.get(i);
      const end = i === current ? now : (i + 1) * this.bucketMs;
      const seconds = i === current ? Math.max(1, (now - i * this.bucketMs) / 1000) : this.bucketSeconds;
      let total = 0;
      if (s) for (const c of s.values()) total += c.requests;
      const out: Record<string, VersionPoint> = {};
      for (const v of names) {
        const c = s?.get(v);
        const n = c?.requests ?? 0;
        out[v] = {
          requests: n,
          rps: round(n / seconds, 3),
          share: total === 0 ? null : round(n / total, 3),
          successRate: c === undefined || n === 0 ? null : round((n - c.failures) / n, 4),
        };
      }
      points.push({ at: new Date(end).toISOString(), requests: total, versions: out });
    }
    return { service, bucketSeconds: this.bucketSeconds, versions: names, points };
  }
}
