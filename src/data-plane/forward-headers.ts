/**
 * Header handling on the proxy's hot path. Node gives request headers as a flat `rawHeaders` array
 * ([name, value, name, value, ...], names as the client spelled them); undici takes a flat string array the
 * same way. Working on those arrays directly avoids building `req.headers` objects and lower-casing every name.
 */

/** Case-insensitive equality of `name` with `lower` (already lower-case ASCII); allocates nothing. */
export function equalsLower(name: string, lower: string): boolean {
  const n = lower.length;
  if (name.length !== n) return false;
  for (let i = 0; i < n; i++) {
    let c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** First value of a header by lower-case name in a flat raw header array, or undefined. */
export function rawHeader(raw: readonly string[], lower: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (equalsLower(raw[i]!, lower)) return raw[i + 1];
  return undefined;
}

// Classification of the request headers the proxy drops or rewrites (RFC 9110 section 7.6.1 hop-by-hop
// fields, plus `expect`, which Node's server has already answered with 100 Continue).
const KEEP = 0;
const DROP = 1;
const HOST = 2;
const XFF = 3;
const XFP = 4;
const REQUEST_ID = 5;
const CONNECTION = 6;
const TE = 7;
const CONTENT_LENGTH = 8;
const TRANSFER_ENCODING = 9;
// Trace context headers: forwarded like any end-to-end field, their positions noted for the tracer.
const TRACEPARENT = 10;
const B3 = 11;
const B3_TRACE_ID = 12;
const B3_SPAN_ID = 13;
const B3_PARENT_SPAN_ID = 14;
const B3_SAMPLED = 15;
const B3_FLAGS = 16;

function classifyRequestHeader(name: string): number {
  switch (name.length) {
    case 2:
      if (equalsLower(name, 'te')) return TE;
      return equalsLower(name, 'b3') ? B3 : KEEP;
    case 4:
      return equalsLower(name, 'host') ? HOST : KEEP;
    case 6:
      return equalsLower(name, 'expect') ? DROP : KEEP;
    case 7:
      return equalsLower(name, 'upgrade') ? DROP : KEEP;
    case 10:
      if (equalsLower(name, 'connection')) return CONNECTION;
      if (equalsLower(name, 'x-b3-flags')) return B3_FLAGS;
      return equalsLower(name, 'keep-alive') ? DROP : KEEP;
    case 11:
      if (equalsLower(name, 'traceparent')) return TRACEPARENT;
      return equalsLower(name, 'x-b3-spanid') ? B3_SPAN_ID : KEEP;
    case 12:
      if (equalsLower(name, 'x-request-id')) return REQUEST_ID;
      if (equalsLower(name, 'x-b3-traceid')) return B3_TRACE_ID;
      return equalsLower(name, 'x-b3-sampled') ? B3_SAMPLED : KEEP;
    case 14:
      return equalsLower(name, 'content-length') ? CONTENT_LENGTH : KEEP;
    case 15:
      return equalsLower(name, 'x-forwarded-for') ? XFF : KEEP;
    case 16:
      return equalsLower(name, 'proxy-connection') ? DROP : KEEP;
    case 17:
      if (equalsLower(name, 'transfer-encoding')) return TRANSFER_ENCODING;
      if (equalsLower(name, 'x-b3-parentspanid')) return B3_PARENT_SPAN_ID;
      return equalsLower(name, 'x-forwarded-proto') ? XFP : KEEP;
    case 18:
      return equalsLower(name, 'proxy-authenticate') ? DROP : KEEP;
    case 19:
      return equalsLower(name, 'proxy-authorization') ? DROP : KEEP;
    default:
      return KEEP;
  }
}

/** What one pass over the request headers learned besides the forwarded list. */
export interface RequestHeaderFacts {
  host: string;
  /** The request carries a body (Content-Length > 0 or Transfer-Encoding). */
  hasBody: boolean;
  /** Index in the forwarded array of the Host header's value, so a mirror copy can rewrite it. */
  hostIndex: number;
  /** Indexes in the forwarded array of the trace headers' values (-1: absent), for the tracer to read and rewrite. */
  trace: TraceHeaderIndexes;
}

export interface TraceHeaderIndexes {
  traceparent: number;
  b3: number;
  b3TraceId: number;
  b3SpanId: number;
  b3ParentSpanId: number;
  b3Sampled: number;
  b3Flags: number;
}

export function emptyTraceHeaderIndexes(): TraceHeaderIndexes {
  return { traceparent: -1, b3: -1, b3TraceId: -1, b3SpanId: -1, b3ParentSpanId: -1, b3Sampled: -1, b3Flags: -1 };
}

function resetTraceIndexes(t: TraceHeaderIndexes): void {
  t.traceparent = -1;
  t.b3 = -1;
  t.b3TraceId = -1;
  t.b3SpanId = -1;
  t.b3ParentSpanId = -1;
  t.b3Sampled = -1;
  t.b3Flags = -1;
}

/** Notes where a trace header's value sits in the forwarded list (the first one wins, as for Host). */
function noteTraceHeader(kind: number, t: TraceHeaderIndexes, index: number): void {
  switch (kind) {
    case TRACEPARENT:
      if (t.traceparent === -1) t.traceparent = index;
      break;
    case B3:
      if (t.b3 === -1) t.b3 = index;
      break;
    case B3_TRACE_ID:
      if (t.b3TraceId === -1) t.b3TraceId = index;
      break;
    case B3_SPAN_ID:
      if (t.b3SpanId === -1) t.b3SpanId = index;
      break;
    case B3_PARENT_SPAN_ID:
      if (t.b3ParentSpanId === -1) t.b3ParentSpanId = index;
      break;
    case B3_SAMPLED:
      if (t.b3Sampled === -1) t.b3Sampled = index;
      break;
    case B3_FLAGS:
      if (t.b3Flags === -1) t.b3Flags = index;
      break;
  }
}

/** Tokens a Connection header names besides the usual `close` / `keep-alive` (rare; those go too). */
function connectionTokens(value: string, into: string[]): void {
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase();
    if (token && token !== 'close' && token !== 'keep-alive') into.push(token);
  }
}

/** The fields the Connection headers of a flat `[name, value, ...]` list name (they are hop-by-hop too), or null. */
export function connectionNamedFields(raw: readonly string[]): string[] | null {
  let named: string[] | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (!equalsLower(raw[i]!, 'connection')) continue;
    named ??= [];
    connectionTokens(raw[i + 1]!, named);
  }
  return named !== null && named.length > 0 ? named : null;
}

/**
 * Names a client's Connection header can never remove: the fields that frame and address the request (dropping
 * Content-Length would let its body be read upstream as a second request), and `te: trailers`, which the proxy
 * forwards on purpose (RFC 9110 asks a TE sender to name it in Connection).
 */
function isProtectedFromConnection(lower: string): boolean {
  return lower === 'content-length' || lower === 'transfer-encoding' || lower === 'host' || lower === 'te';
}

/**
 * Builds the header list sent upstream: hop-by-hop fields removed (and those the Connection header names, except
 * framing fields and Host), `te: trailers` kept (gRPC and others rely on it end to end); then, after that
 * removal, the proxy's own fields: the client address appended to `x-forwarded-for`, `x-forwarded-proto` and
 * `x-request-id` added when absent. A client's `x-forwarded-*` or `x-request-id` named in Connection is dropped
 * as hop-by-hop and the proxy's own value takes its place. Trace headers (traceparent, tracestate, b3, x-b3-*)
 * pass untouched like every other end-to-end field.
 */
export function upstreamRequestHeaders(
  raw: readonly string[],
  clientAddress: string,
  newRequestId: () => string,
  facts: RequestHeaderFacts,
): string[] {
  // A fresh list: emptying a reused one (`length = 0`) is a runtime call, dearer than a young allocation.
  const out: string[] = [];
  let xffIndex = -1;
  let xfpSeen = false;
  let ridSeen = false;
  let named: string[] | null = null;
  facts.host = '';
  facts.hasBody = false;
  facts.hostIndex = -1;
  const trace = facts.trace;
  resetTraceIndexes(trace);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const kind = classifyRequestHeader(name);
    switch (kind) {
      case KEEP:
        out.push(name, value);
        break;
      case DROP:
        break;
      case HOST:
        if (facts.hostIndex === -1) {
          facts.host = value;
          facts.hostIndex = out.length + 1;
          out.push(name, value);
        }
        break;
      case XFF:
        // Several fields are one list (RFC 9110 5.3); the client's address is appended once, at the end.
        if (xffIndex === -1) {
          xffIndex = out.length + 1;
          out.push(name, value);
        } else out[xffIndex] = `${out[xffIndex]}, ${value}`;
        break;
      case XFP:
        xfpSeen = true;
        out.push(name, value);
        break;
      case REQUEST_ID:
        ridSeen = true;
        out.push(name, value);
        break;
      case CONNECTION:
        if (value.length > 10 || (!equalsLower(value, 'keep-alive') && !equalsLower(value, 'close'))) {
          named ??= [];
          connectionTokens(value, named);
        }
        break;
      case TE:
        // TE is hop-by-hop, but "trailers" states that the client accepts trailers end to end.
        if (value.toLowerCase().includes('trailers')) out.push('te', 'trailers');
        break;
      case CONTENT_LENGTH:
        if (value !== '0') facts.hasBody = true;
        out.push(name, value);
        break;
      case TRANSFER_ENCODING:
        // undici frames the streamed body itself (chunked when no Content-Length is given).
        facts.hasBody = true;
        break;
      default:
        noteTraceHeader(kind, trace, out.length + 1);
        out.push(name, value);
        break;
    }
  }
  if (named !== null) {
    // Rare (a Connection header naming fields). A client's x-forwarded-* or x-request-id named there is hop-by-hop:
    // it goes, and the proxy's own value takes its place below.
    if (named.includes('x-forwarded-proto')) xfpSeen = false;
    if (named.includes('x-request-id')) ridSeen = false;
    for (let i = out.length - 2; i >= 0; i -= 2) {
      const lower = out[i]!.toLowerCase();
      if (named.includes(lower) && !isProtectedFromConnection(lower)) out.splice(i, 2);
    }
    // Find every index again in what is left.
    xffIndex = -1;
    facts.hostIndex = -1;
    resetTraceIndexes(trace);
    for (let i = 0; i < out.length; i += 2) {
      const kind = classifyRequestHeader(out[i]!);
      if (kind === HOST) {
        if (facts.hostIndex === -1) facts.hostIndex = i + 1;
      } else if (kind === XFF) xffIndex = i + 1;
      else noteTraceHeader(kind, trace, i + 1);
    }
  }
  if (xffIndex >= 0) out[xffIndex] = `${out[xffIndex]}, ${clientAddress}`;
  else out.push('x-forwarded-for', clientAddress);
  if (!xfpSeen) out.push('x-forwarded-proto', 'http');
  if (!ridSeen) out.push('x-request-id', newRequestId());
  return out;
}

/** Response fields a proxy must not forward (RFC 9110 section 7.6.1), matched without lower-casing. */
export function isHopByHopResponseHeader(name: string): boolean {
  switch (name.length) {
    case 7:
      return equalsLower(name, 'upgrade');
    case 10:
      return equalsLower(name, 'connection') || equalsLower(name, 'keep-alive');
    case 16:
      return equalsLower(name, 'proxy-connection');
    case 17:
      return equalsLower(name, 'transfer-encoding');
    case 18:
      return equalsLower(name, 'proxy-authenticate');
    default:
      return false;
  }
}

/**
 * Turns undici's raw response headers (Buffers) into the flat list `res.writeHead` takes, without hop-by-hop
 * fields; Node frames the body again (chunked when no Content-Length) and manages the client's keep-alive.
 */
export function downstreamResponseHeaders(raw: readonly Buffer[], extraName: string | null, extraValue: string): string[] {
  const out: string[] = [];
  let named: string[] | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    if (isHopByHopResponseHeader(name)) {
      if (name.length === 10 && equalsLower(name, 'connection')) {
        const value = raw[i + 1]!.toString('latin1');
        if (value.length > 10 || (!equalsLower(value, 'keep-alive') && !equalsLower(value, 'close'))) {
          named ??= [];
          connectionTokens(value, named);
        }
      }
      continue;
    }
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  if (named !== null) {
    const drop = named;
    for (let i = out.length - 2; i >= 0; i -= 2) {
      const lower = out[i]!.toLowerCase();
      // The body's length is not the upstream's to remove.
      if (drop.includes(lower) && lower !== 'content-length') out.splice(i, 2);
    }
  }
  if (extraName !== null) out.push(extraName, extraValue);
  return out;
}

/** The first DNS label of a Host header value, lower-cased: `reviews.local:8000` -> `reviews`. */
export function hostFirstLabel(host: string): string {
  let end = host.length;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 46 /* . */ || c === 58 /* : */) {
      end = i;
      break;
    }
  }
  const label = end === host.length ? host : host.slice(0, end);
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    if (c >= 65 && c <= 90) return label.toLowerCase();
  }
  return label;
}

/** Envoy's mirror convention: `-shadow` appended to the host, before any port (`reviews:9080` -> `reviews-shadow:9080`). */
export function shadowHost(host: string): string {
  if (host.charCodeAt(0) === 91 /* [ IPv6 literal */) return host;
  const colon = host.lastIndexOf(':');
  return colon === -1 ? `${host}-shadow` : `${host.slice(0, colon)}-shadow${host.slice(colon)}`;
}

/** Splits an absolute-form request target (`http://reviews:9080/a?b`) into authority and origin-form path. */
export function absoluteTarget(url: string): { authority: string; path: string } | null {
  const scheme = url.indexOf('://');
  if (scheme === -1 || scheme > 5) return null;
  const start = scheme + 3;
  let end = start;
  while (end < url.length) {
    const c = url.charCodeAt(end);
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) break;
    end++;
  }
  const rest = url.slice(end);
  return { authority: url.slice(start, end), path: rest === '' ? '/' : rest.charCodeAt(0) === 47 ? rest : `/${rest}` };
}

/**
 * The header list for an `Upgrade` request (WebSocket and the like): the same rewriting as
 * `upstreamRequestHeaders`, then `Connection: Upgrade` and the client's `Upgrade` value, which are hop-by-hop for
 * every other request but are what asks the next hop to switch protocols. Other fields the client's Connection
 * header named are still removed. Appended last, so the indexes in `facts` stay valid.
 */
export function upgradeRequestHeaders(
  raw: readonly string[],
  clientAddress: string,
  newRequestId: () => string,
  facts: RequestHeaderFacts,
): string[] {
  const out = upstreamRequestHeaders(raw, clientAddress, newRequestId, facts);
  out.push('connection', 'Upgrade', 'upgrade', rawHeader(raw, 'upgrade') ?? '');
  return out;
}
