import { FINE_SLOTS, quantileOf } from '../telemetry-wire/histogram-layout.js';
import type { ComparisonDifference, ComparisonSample, ExampleAnswer } from '../telemetry-wire/telemetry-batch.js';

/**
 * The control plane's memory of mirror comparisons: per release, time buckets of counters, differences and two
 * latency histograms, over a bounded window. Memory is bounded whatever the traffic: at most `maxKeys` difference
 * keys per bucket (the rest counted as `otherDifferences`), and at most `examplesPerKey` example pairs for at most
 * `maxKeys` keys per release (the least recently seen key's examples go first). No body is kept beyond those
 * examples, each cut to TEXT_LIMITS.exampleBody by the hub.
 */

export interface ComparisonWindowOptions {
  /** Seconds kept; default 600. */
  seconds?: number;
  /** Width of a bucket; default 5 s. */
  bucketSeconds?: number;
  /** Difference keys per bucket, and keys with examples per release; default 200. */
  maxKeys?: number;
  /** Example pairs kept per difference key; default 2. */
  examplesPerKey?: number;
}

export interface ExamplePair {
  primary: ExampleAnswer;
  mirror: ExampleAnswer;
}

type Skipped = ComparisonSample['skipped'];
type Counted = Omit<ComparisonDifference, 'example'>;

interface Bucket {
  /** Bucket number: epoch seconds / bucketSeconds. */
  n: number;
  requests: number;
  mirrored: number;
  compared: number;
  agree: number;
  skipped: Skipped;
  other: number;
  differences: Map<string, Counted>;
  primary: Float64Array | null;
  mirror: Float64Array | null;
}

interface ReleaseComparisons {
  buckets: Bucket[];
  /** Latest examples by difference key, and when the key was last seen (ms). */
  examples: Map<string, { pairs: ExamplePair[]; seen: number }>;
}

export interface LatencySummary {
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/** What `GET /api/v1/releases/{name}/comparison` answers (CONTRACT.md). */
export interface ComparisonReport {
  release: string;
  window: number;
  requests: number;
  mirrored: number;
  compared: number;
  agree: number;
  skipped: Skipped;
  /** Differences not kept as keys of their own (over the per-bucket bound). */
  otherDifferences: number;
  differences: (Counted & { example: ExamplePair | null })[];
  latency: { primary: LatencySummary; mirror: LatencySummary };
}

/** Differences listed in a report, most frequent first. */
export const REPORT_DIFFERENCES = 50;

const noSkips = (): Skipped => ({ bodyTooLarge: 0, mirrorFailed: 0, overloaded: 0, primaryFailed: 0 });

/** Status and header differences are told apart by their values (200 vs 503 is not 200 vs 500); body ones by field. */
function keyOf(d: Counted): string {
  const values = d.kind === 'body' ? '' : `\u0000${d.primary}\u0000${d.mirror}`;
  return `${d.kind}\u0000${d.method}\u0000${d.path}\u0000${d.field ?? ''}${values}`;
}

/** The counters a sample, a bucket and a report share. */
type Tally = { requests: number; mirrored: number; compared: number; agree: number; skipped: Skipped };

/** Adds `from`'s counters to `into`'s. */
function addCounts(into: Tally, from: Tally): void {
  into.requests += from.requests;
  into.mirrored += from.mirrored;
  into.compared += from.compared;
  into.agree += from.agree;
  for (const k of Object.keys(into.skipped) as (keyof Skipped)[]) into.skipped[k] += from.skipped[k];
}

function addSlots(into: Float64Array, slots: readonly number[]): void {
  for (let i = 0; i + 1 < slots.length; i += 2) into[slots[i]!]! += slots[i + 1]!;
}

export class ComparisonWindow {
  readonly seconds: number;
  private readonly bucketSeconds: number;
  private readonly maxKeys: number;
  private readonly examplesPerKey: number;
  private readonly releases = new Map<string, ReleaseComparisons>();

  constructor(options: ComparisonWindowOptions = {}) {
    this.seconds = options.seconds ?? 600;
    this.bucketSeconds = options.bucketSeconds ?? 5;
    this.maxKeys = options.maxKeys ?? 200;
    this.examplesPerKey = options.examplesPerKey ?? 2;
  }

  /** Folds a batch's samples in; samples of no release (plain route rules) are not kept. */
  add(samples: readonly ComparisonSample[], now = Date.now()): void {
    if (samples.length === 0) return;
    const n = Math.floor(now / 1000 / this.bucketSeconds);
    for (const s of samples) {
      if (s.release === null) continue;
      let rel = this.releases.get(s.release);
      if (rel === undefined) {
        rel = { buckets: [], examples: new Map() };
        this.releases.set(s.release, rel);
      }
      const b = this.bucket(rel, n);
      addCounts(b, s);
      b.other += s.otherDifferences;
      for (const d of s.differences) {
        const { example, ...counted } = d;
        const key = keyOf(counted);
        const have = b.differences.get(key);
        if (have !== undefined) {
          have.count += d.count;
          have.primary = d.primary;
          have.mirror = d.mirror;
        } else if (b.differences.size < this.maxKeys) {
          b.differences.set(key, { ...counted });
        } else {
          b.other += d.count;
          continue;
        }
        if (example !== null) this.keepExample(rel, key, example, now);
      }
      if (s.primaryLatency.length > 0) {
        b.primary ??= new Float64Array(FINE_SLOTS);
        addSlots(b.primary, s.primaryLatency);
      }
      if (s.mirrorLatency.length > 0) {
        b.mirror ??= new Float64Array(FINE_SLOTS);
        addSlots(b.mirror, s.mirrorLatency);
      }
    }
    this.forgetOld(n);
  }

  /** The comparison of `release` over the last `window` seconds (zeros when nothing was mirrored). */
  report(release: string, window: number, now = Date.now()): ComparisonReport {
    const out: ComparisonReport = {
      release,
      window,
      requests: 0,
      mirrored: 0,
      compared: 0,
      agree: 0,
      skipped: noSkips(),
      otherDifferences: 0,
      differences: [],
      latency: { primary: { p50: null, p90: null, p99: null }, mirror: { p50: null, p90: null, p99: null } },
    };
    const rel = this.releases.get(release);
    if (rel === undefined) return out;
    const last = Math.floor(now / 1000 / this.bucketSeconds);
    // The bucket filling now counts whole; a window of w seconds spans ceil(w / bucketSeconds) buckets.
    const first = last - Math.ceil(window / this.bucketSeconds) + 1;
    const primary = new Float64Array(FINE_SLOTS);
    const mirror = new Float64Array(FINE_SLOTS);
    const differences = new Map<string, Counted>();
    for (const b of rel.buckets) {
      if (b.n < first || b.n > last) continue;
      addCounts(out, b);
      out.otherDifferences += b.other;
      for (const [key, d] of b.differences) {
        const have = differences.get(key);
        if (have === undefined) differences.set(key, { ...d });
        else {
          have.count += d.count;
          have.primary = d.primary;
          have.mirror = d.mirror;
        }
      }
      if (b.primary !== null) for (let i = 0; i < FINE_SLOTS; i++) primary[i]! += b.primary[i]!;
      if (b.mirror !== null) for (let i = 0; i < FINE_SLOTS; i++) mirror[i]! += b.mirror[i]!;
    }
    const ranked = [...differences.entries()].sort((a, b) => b[1].count - a[1].count);
    out.otherDifferences += ranked.slice(REPORT_DIFFERENCES).reduce((n, [, d]) => n + d.count, 0);
    out.differences = ranked
      .slice(0, REPORT_DIFFERENCES)
      .map(([key, d]) => ({ ...d, example: rel.examples.get(key)?.pairs.at(-1) ?? null }));
    out.latency = { primary: summary(primary), mirror: summary(mirror) };
    return out;
  }

  /** Difference keys with examples, over every release (for tests of the bound). */
  get exampleKeys(): number {
    let n = 0;
    for (const r of this.releases.values()) n += r.examples.size;
    return n;
  }

  private bucket(rel: ReleaseComparisons, n: number): Bucket {
    const last = rel.buckets.at(-1);
    if (last !== undefined && last.n === n) return last;
    // Batches arrive in time order from each proxy; one a little late lands in the bucket it finds.
    if (last !== undefined && last.n > n) return last;
    const b: Bucket = {
      n,
      requests: 0,
      mirrored: 0,
      compared: 0,
      agree: 0,
      skipped: noSkips(),
      other: 0,
      differences: new Map(),
      primary: null,
      mirror: null,
    };
    rel.buckets.push(b);
    return b;
  }

  private keepExample(rel: ReleaseComparisons, key: string, pair: ExamplePair, now: number): void {
    let kept = rel.examples.get(key);
    if (kept === undefined) {
      if (rel.examples.size >= this.maxKeys) {
        let oldest: string | undefined;
        let seen = Number.POSITIVE_INFINITY;
        for (const [k, v] of rel.examples) {
          if (v.seen < seen) {
            seen = v.seen;
            oldest = k;
          }
        }
        if (oldest !== undefined) rel.examples.delete(oldest);
      }
      kept = { pairs: [], seen: now };
      rel.examples.set(key, kept);
    }
    kept.seen = now;
    kept.pairs.push(pair);
    if (kept.pairs.length > this.examplesPerKey) kept.pairs.shift();
  }

  /** Drops buckets (and releases, and examples) older than the window kept. */
  private forgetOld(n: number): void {
    const oldest = n - Math.ceil(this.seconds / this.bucketSeconds) + 1;
    const cutoffMs = oldest * this.bucketSeconds * 1000;
    for (const [name, rel] of this.releases) {
      while (rel.buckets.length > 0 && rel.buckets[0]!.n < oldest) rel.buckets.shift();
      for (const [key, kept] of rel.examples) if (kept.seen < cutoffMs) rel.examples.delete(key);
      if (rel.buckets.length === 0) this.releases.delete(name);
    }
  }
}

function summary(fine: Float64Array): LatencySummary {
  let total = 0;
  for (let i = 0; i < fine.length; i++) total += fine[i]!;
  const q = (p: number) => {
    const v = quantileOf(fine, total, p);
    return v === null ? null : Math.round(v * 100) / 100;
  };
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99) };
}
