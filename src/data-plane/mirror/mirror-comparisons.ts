import {
  type AnswerDifference,
  type CapturedAnswer,
  type CompiledCompare,
  compareAnswers,
  headerValue,
  shownHeaderValue,
} from '../../core/comparison/index.js';
import { durationSlot } from '../../telemetry-wire/histogram-layout.js';
import type { ComparisonDifference, ComparisonSample, ExampleAnswer } from '../../telemetry-wire/telemetry-batch.js';

/** Bounds of a proxy's mirroring (docs/proxy.md, "Mirror"). */
export interface MirrorLimits {
  /** Copies in flight at once (from the pick to both answers); beyond it a pick is skipped as `overloaded`. */
  maxPending: number;
  /** Body bytes the copies in flight may hold in all (each reserves three times its service's maxBodyBytes). */
  maxPendingBytes: number;
  /** A pair not complete this long after the pick is abandoned (the copy aborted). */
  timeoutMs: number;
}

export const DEFAULT_MIRROR_LIMITS: MirrorLimits = { maxPending: 256, maxPendingBytes: 64 * 1024 * 1024, timeoutMs: 15_000 };

/** Difference keys one service keeps per batch interval; the rest are counted as `otherDifferences`. */
export const MAX_DIFFERENCE_KEYS = 64;
/** Characters of a body kept in an example pair. */
const EXAMPLE_BODY_CHARS = 4096;

/** What a finished pair tells the comparison: both answers when both completed. */
export interface MirrorResult {
  method: string;
  path: string;
  compare: CompiledCompare;
  primary: CapturedAnswer | null;
  mirror: CapturedAnswer | null;
  primaryMs: number;
  mirrorMs: number;
}

/** One service's comparison over the current batch interval. */
export class ServiceComparison {
  requests = 0;
  mirrored = 0;
  compared = 0;
  agree = 0;
  readonly skipped = { bodyTooLarge: 0, mirrorFailed: 0, overloaded: 0, primaryFailed: 0 };
  other = 0;
  readonly differences = new Map<string, ComparisonDifference>();
  /** Sparse latency histograms: slot -> count. */
  readonly primaryLatency = new Map<number, number>();
  readonly mirrorLatency = new Map<number, number>();

  constructor(
    readonly service: string,
    readonly release: string | null,
  ) {}

  /** Compares a finished pair and counts the verdict; an example pair is built only for a key new this interval. */
  record(r: MirrorResult): void {
    if (r.mirror === null) {
      this.skipped.mirrorFailed++;
      return;
    }
    if (r.primary === null) {
      this.skipped.primaryFailed++;
      return;
    }
    this.compared++;
    bump(this.primaryLatency, durationSlot(r.primaryMs));
    bump(this.mirrorLatency, durationSlot(r.mirrorMs));
    const found = compareAnswers(r.primary, r.mirror, r.compare);
    if (found.length === 0) {
      this.agree++;
      return;
    }
    for (const d of found) this.count(d, r);
  }

  private count(d: AnswerDifference, r: MirrorResult): void {
    // Status and header differences are told apart by their values; body ones by their field.
    const key =
      d.kind === 'body'
        ? `${d.kind}\u0000${r.method}\u0000${r.path}\u0000${d.field ?? ''}`
        : `${d.kind}\u0000${r.method}\u0000${r.path}\u0000${d.field ?? ''}\u0000${d.primary}\u0000${d.mirror}`;
    const have = this.differences.get(key);
    if (have !== undefined) {
      have.count++;
      return;
    }
    if (this.differences.size >= MAX_DIFFERENCE_KEYS) {
      this.other++;
      return;
    }
    this.differences.set(key, {
      kind: d.kind,
      method: r.method,
      path: r.path,
      field: d.field,
      primary: d.primary,
      mirror: d.mirror,
      count: 1,
      example: { primary: exampleOf(r.primary!, r.compare), mirror: exampleOf(r.mirror!, r.compare) },
    });
  }

  sample(): ComparisonSample {
    return {
      service: this.service,
      release: this.release,
      requests: this.requests,
      mirrored: this.mirrored,
      compared: this.compared,
      agree: this.agree,
      skipped: { ...this.skipped },
      differences: [...this.differences.values()],
      otherDifferences: this.other,
      primaryLatency: slots(this.primaryLatency),
      mirrorLatency: slots(this.mirrorLatency),
    };
  }
}

function bump(m: Map<number, number>, slot: number): void {
  m.set(slot, (m.get(slot) ?? 0) + 1);
}

function slots(m: Map<number, number>): number[] {
  const out: number[] = [];
  for (const [slot, n] of m) out.push(slot, n);
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** The compared headers (and content-type) and the start of the body, as text. */
function exampleOf(a: CapturedAnswer, c: CompiledCompare): ExampleAnswer {
  const headers: Record<string, string> = {};
  const names = c.allHeaders ? a.headers.filter((_, i) => i % 2 === 0) : [...c.headers, 'content-type'];
  for (const name of names) {
    if (headers[name] !== undefined) continue;
    const v = headerValue(a.headers, name);
    if (v !== null) headers[name] = shownHeaderValue(name, v);
  }
  const text = utf8.decode(a.body.subarray(0, EXAMPLE_BODY_CHARS * 4));
  return {
    status: a.status,
    headers,
    body: text.length > EXAMPLE_BODY_CHARS ? text.slice(0, EXAMPLE_BODY_CHARS) : text,
    bodyBytes: a.bodyBytes,
  };
}

/**
 * A proxy's mirror comparisons: one ServiceComparison per (release, service), drained into each telemetry batch,
 * and the bound on copies in flight (count and bytes), so a slow or dead mirror costs bounded memory.
 */
export class MirrorComparisons {
  private readonly byService = new Map<string, ServiceComparison>();
  /** Copies in flight and the body bytes they reserved. */
  pending = 0;
  pendingBytes = 0;

  constructor(readonly limits: MirrorLimits = DEFAULT_MIRROR_LIMITS) {}

  /** The current interval's comparison of a service (looked up at each count: draining starts a new one). */
  of(service: string, release: string | null): ServiceComparison {
    const key = `${release ?? ''}\u0000${service}`;
    let sc = this.byService.get(key);
    if (sc === undefined) {
      sc = new ServiceComparison(service, release);
      this.byService.set(key, sc);
    }
    return sc;
  }

  /** Takes a place for one copy in flight; false when the bounds are reached. */
  reserve(bytes: number): boolean {
    const l = this.limits;
    if (this.pending >= l.maxPending || this.pendingBytes + bytes > l.maxPendingBytes) return false;
    this.pending++;
    this.pendingBytes += bytes;
    return true;
  }

  release(bytes: number): void {
    this.pending--;
    this.pendingBytes -= bytes;
  }

  /** The interval's samples (services that mirrored something), and a fresh interval. */
  drain(): ComparisonSample[] {
    const out: ComparisonSample[] = [];
    for (const sc of this.byService.values()) out.push(sc.sample());
    this.byService.clear();
    return out;
  }
}
