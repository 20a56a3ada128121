import {
  emptyTraceContext,
  formatTraceparent,
  parseB3Multi,
  parseB3Single,
  parseTraceparent,
  TraceIds,
} from '../../telemetry-wire/trace-context.js';
import type { TraceHeaderIndexes } from '../forward-headers.js';

/** The trace identity of one proxy hop; the proxy keeps one and copies it into the request's record. */
export interface HopTrace {
  /** '' when the request is not traced at all. */
  traceId: string;
  /** The caller's span id ('' for a root): parent of the hop's client span. */
  parentSpanId: string;
  /** The call as the caller made it (the source's side). */
  clientSpanId: string;
  /** The call as the callee got it (the destination's side); sent upstream as the new parent id. */
  serverSpanId: string;
  sampled: boolean;
}

export function emptyHopTrace(): HopTrace {
  return { traceId: '', parentSpanId: '', clientSpanId: '', serverSpanId: '', sampled: false };
}

export interface ProxyTracerOptions {
  /** Share of new traces sampled, 0..1 (a caller's decision always wins). */
  sampling: number;
}

/**
 * Starts or continues a trace for each proxied request, synchronously and without JSON: reads W3C
 * `traceparent`, else B3 (single or multi) from the forwarded header list; decides sampling once (the caller's
 * flag wins, otherwise a coin with the configured rate); for sampled requests makes a client and a server span
 * id and rewrites the propagation headers so the callee's own calls become children of the server span.
 * Unsampled requests that carried no context get `b3: 0` (B3's "do not sample"), so the hops after them keep the
 * decision instead of starting partial traces.
 */
export class ProxyTracer {
  private readonly ids = new TraceIds();
  private readonly ctx = emptyTraceContext();
  sampling: number;

  constructor(options: ProxyTracerOptions) {
    this.sampling = clampRate(options.sampling);
  }

  /** Fills `hop` for a request whose forwarded headers are `headers`, rewriting them as needed. */
  begin(headers: string[], at: TraceHeaderIndexes, hop: HopTrace): void {
    const ctx = this.ctx;
    let found = false;
    if (at.traceparent !== -1) found = parseTraceparent(headers[at.traceparent]!, ctx);
    if (!found && at.b3 !== -1) found = parseB3Single(headers[at.b3]!, ctx);
    if (!found && (at.b3TraceId !== -1 || at.b3Sampled !== -1 || at.b3Flags !== -1)) {
      found = parseB3Multi(
        at.b3TraceId === -1 ? undefined : headers[at.b3TraceId],
        at.b3SpanId === -1 ? undefined : headers[at.b3SpanId],
        at.b3Sampled === -1 ? undefined : headers[at.b3Sampled],
        at.b3Flags === -1 ? undefined : headers[at.b3Flags],
        ctx,
      );
    }
    if (!found) {
      ctx.traceId = '';
      ctx.parentSpanId = '';
      ctx.sampled = null;
    }
    const sampled = ctx.sampled ?? (this.sampling >= 1 || (this.sampling > 0 && this.ids.fraction() < this.sampling));
    hop.sampled = sampled;
    hop.parentSpanId = ctx.parentSpanId;
    if (!sampled) {
      hop.clientSpanId = '';
      hop.serverSpanId = '';
      hop.traceId = ctx.traceId;
      // The caller's context passes as it is (nothing of this hop is recorded). Without one, B3's constant
      // "deny" (`b3: 0`) carries the decision to the next hops at no cost: no ids to make.
      if (ctx.traceId === '' && ctx.sampled === null) headers.push('b3', '0');
      return;
    }
    const traceId = ctx.traceId === '' ? this.ids.traceId() : ctx.traceId;
    const client = this.ids.spanId();
    const server = this.ids.spanId();
    hop.traceId = traceId;
    hop.clientSpanId = client;
    hop.serverSpanId = server;
    const traceparent = formatTraceparent(traceId, server, true);
    if (at.traceparent === -1) headers.push('traceparent', traceparent);
    else headers[at.traceparent] = traceparent;
    if (at.b3 !== -1) headers[at.b3] = `${traceId}-${server}-1-${client}`;
    if (at.b3TraceId !== -1) {
      if (at.b3SpanId === -1) headers.push('x-b3-spanid', server);
      else headers[at.b3SpanId] = server;
      if (at.b3ParentSpanId === -1) headers.push('x-b3-parentspanid', client);
      else headers[at.b3ParentSpanId] = client;
      if (at.b3Sampled === -1) {
        if (at.b3Flags === -1) headers.push('x-b3-sampled', '1');
      } else headers[at.b3Sampled] = '1';
    }
  }
}

function clampRate(v: number): number {
  if (!(v >= 0)) return 0;
  return Math.min(v, 1);
}
