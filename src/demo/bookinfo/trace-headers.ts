import type { IncomingHttpHeaders } from 'node:http';

/**
 * Headers every Bookinfo service copies from its inbound request to each outbound call, as Istio's Bookinfo
 * does: W3C trace context and B3 (so the mesh can stitch spans into one trace), the request id, and the
 * headers routing rules commonly match on downstream (end-user, cookie, user-agent, authorization).
 */
export const FORWARDED_HEADERS = [
  'traceparent',
  'tracestate',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'x-request-id',
  'end-user',
  'cookie',
  'user-agent',
  'authorization',
] as const;

/** The headers of `inbound` to pass on downstream. */
export function forwardHeaders(inbound: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED_HEADERS) {
    const v = inbound[name];
    if (typeof v === 'string') out[name] = v;
    else if (Array.isArray(v)) out[name] = v.join(', ');
  }
  return out;
}
