import { z } from 'zod';
import { BYTES_SLOTS, FINE_SLOTS } from './histogram-layout.js';
import { TEXT_LIMITS, truncateText } from './text-limits.js';

export {
  FLAG_MIRRORED,
  FLAG_NO_ROUTE,
  FLAG_RETRIED,
  FLAG_UPSTREAM_FAILURE,
  FLAG_UPSTREAM_OVERFLOW,
  responseFlagsOf,
} from './response-flags.js';

// Text fields take any length here: truncateBatch() cuts what is over TEXT_LIMITS after parsing, so an over-long
// value costs its own characters, never the batch (issue 13). The body limit bounds the whole.
const Party = z.object({ service: z.string(), version: z.string(), instance: z.string() });
export type Party = z.infer<typeof Party>;

/** The counts of one edge (source instance -> destination instance, status code, flags) over one batch interval. */
export const EdgeSample = z.object({
  source: Party.nullable(),
  destination: Party.nullable(),
  code: z.int().min(0).max(999),
  flags: z.int().min(0).max(31),
  count: z.int().min(1),
  durationSumMs: z.number().min(0),
  /** Sparse fine latency histogram: [slot, count, slot, count, ...] (see histogram-layout.ts). */
  durationSlots: z.array(z.int().min(0)).refine((a) => a.length % 2 === 0 && a.every((v, i) => i % 2 === 1 || v < FINE_SLOTS), {
    message: `must be [slot, count, ...] pairs with slots below ${FINE_SLOTS}`,
  }),
  bytesInSum: z.number().min(0),
  bytesInBuckets: z.array(z.int().min(0)).length(BYTES_SLOTS),
  bytesOutSum: z.number().min(0),
  bytesOutBuckets: z.array(z.int().min(0)).length(BYTES_SLOTS),
});
export type EdgeSample = z.infer<typeof EdgeSample>;

/** One span of a proxy hop: `client` for the call as the caller made it, `server` for it as the callee got it. */
export const SpanData = z.object({
  traceId: z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lower-case hex digits'),
  spanId: z.string().regex(/^[0-9a-f]{16}$/, 'must be 16 lower-case hex digits'),
  parentSpanId: z
    .string()
    .regex(/^[0-9a-f]{16}$/)
    .nullable(),
  kind: z.enum(['server', 'client']),
  /** The operation: `GET /reviews/0`. */
  name: z.string(),
  service: z.string(),
  version: z.string(),
  instance: z.string(),
  /** Milliseconds since the epoch (fractional). */
  startTime: z.number(),
  durationMs: z.number().min(0),
  statusCode: z.int().min(0).max(999),
  error: z.boolean(),
  /** The host of the proxy that measured it. */
  host: z.string(),
  /** The process of the span's instance when the mesh runs it (process workloads), else the measuring proxy's. */
  pid: z.int().min(0),
  /** The other side: the caller's address for server spans, the upstream's for client spans. */
  peerAddress: z.string(),
  method: z.string(),
  path: z.string(),
  /** Callee service of a client span (and of a server span: its own). */
  peerService: z.string(),
  responseFlags: z.string(),
  retried: z.boolean(),
  mirrored: z.boolean(),
});
export type SpanData = z.infer<typeof SpanData>;

/** An endpoint the proxy's outlier detection has ejected from load balancing, as of the batch's end. */
export const OutlierSample = z.object({
  service: z.string().max(253),
  version: z.string().max(253),
  instance: z.string().max(253),
  address: z.string().max(300),
  /** When it comes back into service, milliseconds since the epoch. */
  ejectedUntil: z.number(),
  /** The ejection multiplier (this ejection lasts baseEjectionTime x this). */
  multiplier: z.int().min(0),
});
export type OutlierSample = z.infer<typeof OutlierSample>;

/** One answer of an example pair kept beside a comparison difference (body cut to TEXT_LIMITS.exampleBody). */
const ExampleAnswer = z.object({
  status: z.int().min(0).max(999),
  headers: z.record(z.string(), z.string()),
  body: z.string(),
  /** The whole body's length (the text may be cut). */
  bodyBytes: z.int().min(0),
});
export type ExampleAnswer = z.infer<typeof ExampleAnswer>;

/** A difference between the primary's and the mirror's answers, counted over a batch interval. */
export const ComparisonDifference = z.object({
  kind: z.enum(['status', 'header', 'body']),
  method: z.string(),
  path: z.string(),
  /** Header name, JSON field (`$.rating`, indexes as `[*]`), or null (status, a text body). */
  field: z.string().nullable(),
  primary: z.string(),
  mirror: z.string(),
  count: z.int().min(1),
  /** The first pair seen with this difference in the interval. */
  example: z.object({ primary: ExampleAnswer, mirror: ExampleAnswer }).nullable(),
});
export type ComparisonDifference = z.infer<typeof ComparisonDifference>;

const LatencySlots = z.array(z.int().min(0)).refine((a) => a.length % 2 === 0 && a.every((v, i) => i % 2 === 1 || v < FINE_SLOTS), {
  message: `must be [slot, count, ...] pairs with slots below ${FINE_SLOTS}`,
});

/** A proxy's comparison of mirrored answers for one service over a batch interval: counters, differences, latency. */
export const ComparisonSample = z.object({
  service: z.string(),
  /** The release that owns the service's routes (the route table's), or null. */
  release: z.string().nullable(),
  /** Requests routed by a rule that mirrors. */
  requests: z.int().min(0),
  /** Copies sent to the mirror. */
  mirrored: z.int().min(0),
  /** Pairs whose two answers were both complete and compared. */
  compared: z.int().min(0),
  /** Compared pairs without any difference. */
  agree: z.int().min(0),
  skipped: z.object({
    /** Picked for mirroring, but the request body was over compare.maxBodyBytes: not sent. */
    bodyTooLarge: z.int().min(0),
    /** Sent, but the mirror refused, reset, timed out or answered something that cannot be framed. */
    mirrorFailed: z.int().min(0),
    /** Picked, but the proxy already had its most mirrors in flight: not sent. */
    overloaded: z.int().min(0),
    /** Sent, but the primary did not complete (its upstream failed, or the client left): nothing to compare. */
    primaryFailed: z.int().min(0),
  }),
  /** Differences of the interval, at most a bounded number of keys; `otherDifferences` counts the rest. */
  differences: z.array(ComparisonDifference).max(1000),
  otherDifferences: z.int().min(0),
  /** Sparse fine latency histograms (histogram-layout.ts) of the compared pairs' primary and mirror answers. */
  primaryLatency: LatencySlots,
  mirrorLatency: LatencySlots,
});
export type ComparisonSample = z.infer<typeof ComparisonSample>;

/** What a proxy POSTs to `/api/v1/telemetry` every second. */
export const TelemetryBatch = z.object({
  proxy: z.object({ id: z.string(), host: z.string(), pid: z.int().min(0) }),
  /** Interval covered, milliseconds since the epoch. */
  start: z.number(),
  end: z.number(),
  edges: z.array(EdgeSample).max(100_000),
  spans: z.array(SpanData).max(100_000),
  /** Spans the proxy dropped since the last batch (queue full, or the control plane unreachable). */
  droppedSpans: z.int().min(0).default(0),
  /** Every endpoint ejected by the proxy's outlier detection now (the whole set, not a change). */
  outliers: z.array(OutlierSample).max(10_000).default([]),
  /** Comparisons of mirrored answers, one per service that mirrored in the interval. */
  comparisons: z.array(ComparisonSample).max(10_000).default([]),
});
export type TelemetryBatch = z.infer<typeof TelemetryBatch>;
export type TelemetryBatchInput = z.input<typeof TelemetryBatch>;

/**
 * Cuts every text field of a parsed batch to TEXT_LIMITS, in place; returns how many fields it cut. The control
 * plane runs it on every batch, so records from a proxy that does not cut (an older one) still count.
 */
export function truncateBatch(batch: TelemetryBatch): number {
  let cut = 0;
  const cutTo = (text: string, max: number): string => {
    if (text.length <= max) return text;
    cut++;
    return truncateText(text, max);
  };
  const party = (p: Party | null): void => {
    if (p === null) return;
    p.service = cutTo(p.service, TEXT_LIMITS.party);
    p.version = cutTo(p.version, TEXT_LIMITS.party);
    p.instance = cutTo(p.instance, TEXT_LIMITS.party);
  };
  batch.proxy.id = cutTo(batch.proxy.id, TEXT_LIMITS.proxyId);
  batch.proxy.host = cutTo(batch.proxy.host, TEXT_LIMITS.host);
  for (const e of batch.edges) {
    party(e.source);
    party(e.destination);
  }
  for (const s of batch.spans) {
    s.name = cutTo(s.name, TEXT_LIMITS.operation);
    s.service = cutTo(s.service, TEXT_LIMITS.party);
    s.version = cutTo(s.version, TEXT_LIMITS.party);
    s.instance = cutTo(s.instance, TEXT_LIMITS.party);
    s.host = cutTo(s.host, TEXT_LIMITS.host);
    s.peerAddress = cutTo(s.peerAddress, TEXT_LIMITS.peerAddress);
    s.method = cutTo(s.method, TEXT_LIMITS.method);
    s.path = cutTo(s.path, TEXT_LIMITS.operation);
    s.peerService = cutTo(s.peerService, TEXT_LIMITS.party);
    s.responseFlags = cutTo(s.responseFlags, TEXT_LIMITS.responseFlags);
  }
  const answer = (a: ExampleAnswer): void => {
    a.body = cutTo(a.body, TEXT_LIMITS.exampleBody);
    for (const [k, v] of Object.entries(a.headers)) a.headers[k] = cutTo(v, TEXT_LIMITS.exampleHeader);
  };
  for (const c of batch.comparisons) {
    c.service = cutTo(c.service, TEXT_LIMITS.party);
    if (c.release !== null) c.release = cutTo(c.release, TEXT_LIMITS.party);
    for (const d of c.differences) {
      d.method = cutTo(d.method, TEXT_LIMITS.method);
      d.path = cutTo(d.path, TEXT_LIMITS.operation);
      if (d.field !== null) d.field = cutTo(d.field, TEXT_LIMITS.comparisonValue);
      d.primary = cutTo(d.primary, TEXT_LIMITS.comparisonValue);
      d.mirror = cutTo(d.mirror, TEXT_LIMITS.comparisonValue);
      if (d.example !== null) {
        answer(d.example.primary);
        answer(d.example.mirror);
      }
    }
  }
  return cut;
}
