import type { Span, TraceSummary } from '../api/types.js';

/** A span as the waterfall draws it, whatever spelling the API used for its fields. */
export interface DrawnSpan {
  id: string;
  parentId: string | null;
  name: string;
  /** client (the call as the caller's proxy saw it) or server (as the callee's saw it). */
  kind: string;
  service: string;
  version: string;
  startMs: number;
  durationMs: number;
  status: number | null;
  error: boolean;
  depth: number;
  attributes: Record<string, unknown>;
}

function toMs(v: unknown): number {
  if (typeof v === 'number') return v > 1e14 ? v / 1000 : v; // microseconds from OTLP-style stores
  if (typeof v === 'string') {
    const n = Number(v);
    if (Number.isFinite(n)) return toMs(n);
    const d = Date.parse(v);
    return Number.isFinite(d) ? d : 0;
  }
  return 0;
}

function str(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}

export function traceStart(t: TraceSummary): number {
  const s = toMs(t.startTime ?? t.start);
  if (s) return s;
  const spans = t.spans ?? [];
  return spans.length ? Math.min(...spans.map((x) => toMs(x.startTime ?? x.startedAt))) : 0;
}

export function traceDuration(t: TraceSummary): number {
  if (typeof t.durationMs === 'number') return t.durationMs;
  const spans = normalizeSpans(t.spans ?? []);
  if (spans.length === 0) return 0;
  const start = Math.min(...spans.map((s) => s.startMs));
  return Math.max(...spans.map((s) => s.startMs + s.durationMs)) - start;
}

/** Fields drawn elsewhere (the bar, the tree), not repeated among the attributes. */
const hidden = new Set(['spanId', 'parentSpanId', 'traceId', 'startTime', 'startedAt', 'durationMs', 'children', 'name', 'attributes']);

/** Spans in depth-first order (children after their parent, by start time), each with its depth. */
export function normalizeSpans(spans: Span[]): DrawnSpan[] {
  const flat = spans.map((s): DrawnSpan => {
    const raw = s as unknown as Record<string, unknown>;
    const a = (s.attributes ?? {}) as Record<string, unknown>;
    const code = s.statusCode ?? a['http.status_code'];
    const status = typeof code === 'number' ? code : null;
    // Where the span ran first (service, version, instance, host, pid), then every other scalar field.
    const attributes: Record<string, unknown> = {};
    for (const k of [
      'service',
      'version',
      'instance',
      'host',
      'pid',
      'kind',
      'method',
      'path',
      'statusCode',
      'peerAddress',
      'peerService',
    ]) {
      if (raw[k] !== undefined && raw[k] !== null && raw[k] !== '') attributes[k] = raw[k];
    }
    for (const [k, v] of Object.entries(raw)) {
      if (hidden.has(k) || k in attributes || v === null || v === undefined || v === '' || typeof v === 'object') continue;
      attributes[k] = v;
    }
    Object.assign(attributes, a);
    return {
      id: str(s.spanId),
      parentId: s.parentSpanId ? str(s.parentSpanId) : null,
      name: str(s.name ?? `${s.service ?? ''} ${s.version ?? ''}`.trim()),
      kind: str(s.kind),
      service: str(s.service ?? a.service),
      version: str(s.version ?? a.version),
      startMs: toMs(s.startTime ?? s.startedAt),
      durationMs: Number(s.durationMs ?? 0),
      status,
      error: s.error === true || (status !== null && (status >= 500 || status === 0)),
      depth: 0,
      attributes,
    };
  });
  const ids = new Set(flat.map((s) => s.id));
  const children = new Map<string | null, DrawnSpan[]>();
  for (const s of flat) {
    const parent = s.parentId && ids.has(s.parentId) ? s.parentId : null;
    const list = children.get(parent) ?? [];
    list.push(s);
    children.set(parent, list);
  }
  const out: DrawnSpan[] = [];
  const walk = (parent: string | null, depth: number) => {
    const list = (children.get(parent) ?? []).sort((a, b) => a.startMs - b.startMs);
    for (const s of list) {
      out.push({ ...s, depth });
      walk(s.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}
