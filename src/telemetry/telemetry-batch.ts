import { z } from 'zod';
import { BYTES_SLOTS, FINE_SLOTS } from './histogram-layout.js';

export {
  FLAG_MIRRORED,
  FLAG_NO_ROUTE,
  FLAG_RETRIED,
  FLAG_UPSTREAM_FAILURE,
  FLAG_UPSTREAM_OVERFLOW,
  responseFlagsOf,
} from './response-flags.js';

const Party = z.object({ service: z.string().max(253), version: z.string().max(253), instance: z.string().max(253) });
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
  name: z.string().max(2048),
  service: z.string().max(253),
  version: z.string().max(253),
  instance: z.string().max(253),
  /** Milliseconds since the epoch (fractional). */
  startTime: z.number(),
  durationMs: z.number().min(0),
  statusCode: z.int().min(0).max(999),
  error: z.boolean(),
  /** The host of the proxy that measured it. */
  host: z.string().max(253),
  /** The process of the span's instance when the mesh runs it (process workloads), else the measuring proxy's. */
  pid: z.int().min(0),
  /** The other side: the caller's address for server spans, the upstream's for client spans. */
  peerAddress: z.string().max(300),
  method: z.string().max(32),
  path: z.string().max(2048),
  /** Callee service of a client span (and of a server span: its own). */
  peerService: z.string().max(253),
  responseFlags: z.string().max(8),
  retried: z.boolean(),
  mirrored: z.boolean(),
});
export type SpanData = z.infer<typeof SpanData>;

/** What a proxy POSTs to `/api/v1/telemetry` every second. */
export const TelemetryBatch = z.object({
  proxy: z.object({ id: z.string().max(300), host: z.string().max(253), pid: z.int().min(0) }),
  /** Interval covered, milliseconds since the epoch. */
  start: z.number(),
  end: z.number(),
  edges: z.array(EdgeSample).max(100_000),
  spans: z.array(SpanData).max(100_000),
  /** Spans the proxy dropped since the last batch (queue full, or the control plane unreachable). */
  droppedSpans: z.int().min(0).default(0),
});
export type TelemetryBatch = z.infer<typeof TelemetryBatch>;
export type TelemetryBatchInput = z.input<typeof TelemetryBatch>;
