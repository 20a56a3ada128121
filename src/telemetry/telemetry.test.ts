import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BYTES_SLOTS, durationSlot, FINE_SLOTS, quantileOf } from '../telemetry-wire/histogram-layout.js';
import { IstioMetrics } from '../telemetry-wire/istio-metrics.js';
import { OtlpExporter } from '../telemetry-wire/otlp-exporter.js';
import { SqliteTraceStore } from './sqlite-trace-store.js';
import { type EdgeSample, FLAG_NO_ROUTE, type SpanData } from '../telemetry-wire/telemetry-batch.js';
import { TopologyWindow } from './topology-window.js';
import { emptyTraceContext, parseB3Multi, parseB3Single, parseTraceparent, TraceIds } from '../telemetry-wire/trace-context.js';

const dir = mkdtempSync(join(tmpdir(), 'canary-telemetry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function edge(src: string | null, dst: string | null, code: number, durations: number[], flags = 0): EdgeSample {
  const party = (s: string) => {
    const [service, version] = s.split(':') as [string, string];
    return { service, version, instance: `${service}-${version}-1` };
  };
  const fine = new Map<number, number>();
  for (const d of durations) fine.set(durationSlot(d), (fine.get(durationSlot(d)) ?? 0) + 1);
  return {
    source: src === null ? null : party(src),
    destination: dst === null ? null : party(dst),
    code,
    flags,
    count: durations.length,
    durationSumMs: durations.reduce((a, b) => a + b, 0),
    durationSlots: [...fine].flat(),
    bytesInSum: 0,
    bytesInBuckets: [durations.length, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    bytesOutSum: 500 * durations.length,
    bytesOutBuckets: [0, 0, 0, durations.length, 0, 0, 0, 0, 0, 0].slice(0, BYTES_SLOTS),
  };
}

describe('latency histogram', () => {
  it('puts Istio bounds in their own bucket (le) and estimates percentiles within a sub-bucket', () => {
    expect(durationSlot(0)).toBe(0);
    expect(durationSlot(1)).toBe(19); // last sub-bucket of (0.5, 1]
    expect(durationSlot(1.0001)).toBe(20);
    expect(durationSlot(5_000_000)).toBe(FINE_SLOTS - 10);
    const fine = new Uint32Array(FINE_SLOTS);
    const values = Array.from({ length: 1000 }, (_, i) => 1 + (i % 100) / 10); // 1..10.9 ms, uniform
    for (const v of values) fine[durationSlot(v)]!++;
    expect(quantileOf(fine, 1000, 0.5)!).toBeGreaterThan(5.4);
    expect(quantileOf(fine, 1000, 0.5)!).toBeLessThan(6.5);
    expect(quantileOf(fine, 1000, 0.99)!).toBeGreaterThan(10);
    expect(quantileOf(fine, 0, 0.5)).toBeNull();
  });
});

describe('trace context', () => {
  it('reads W3C traceparent, B3 single and B3 multi, and refuses malformed ones', () => {
    const ctx = emptyTraceContext();
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', ctx)).toBe(true);
    expect(ctx).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7', sampled: true });
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', ctx)).toBe(true);
    expect(ctx.sampled).toBe(false);
    expect(parseTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01', ctx)).toBe(false);
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01', ctx)).toBe(false);
    expect(parseTraceparent('ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', ctx)).toBe(false);
    expect(parseB3Single('80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90', ctx)).toBe(true);
    expect(ctx).toEqual({ traceId: '80f198ee56343ba864fe8b2a57d3eff7', parentSpanId: 'e457b5a2e4d86bd1', sampled: true });
    expect(parseB3Single('0', ctx)).toBe(true);
    expect(ctx.sampled).toBe(false);
    expect(parseB3Multi('a3ce929d0e0e4736', '00f067aa0ba902b7', undefined, undefined, ctx)).toBe(true);
    expect(ctx).toEqual({ traceId: '0000000000000000a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7', sampled: null });
    expect(parseB3Multi('nothex', '00f067aa0ba902b7', undefined, undefined, ctx)).toBe(false);
  });

  it('makes distinct non-zero ids', () => {
    const ids = new TraceIds();
    const seen = new Set(Array.from({ length: 2000 }, () => ids.spanId()));
    expect(seen.size).toBe(2000);
    expect(ids.traceId()).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('IstioMetrics', () => {
  it('renders istio_requests_total and the duration histogram with Istio names, labels and buckets', () => {
    const m = new IstioMetrics();
    m.add(edge(null, 'productpage:v1', 200, [2, 3, 700]));
    m.add(edge('productpage:v1', 'reviews:v2', 200, [4]));
    m.add(edge('productpage:v1', 'reviews:v2', 200, [6]));
    m.add(edge(null, null, 404, [0.2], FLAG_NO_ROUTE));
    const text = m.render();
    expect(text).toContain('# TYPE istio_requests_total counter');
    const reviews = text.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('destination_version="v2"'))!;
    expect(reviews).toMatch(/ 2$/);
    for (const label of [
      'reporter="destination"',
      'source_workload="productpage-v1"',
      'source_app="productpage"',
      'source_version="v1"',
      'destination_service="reviews"',
      'destination_workload="reviews-v2"',
      'destination_app="reviews"',
      'response_code="200"',
      'request_protocol="http"',
      'response_flags="-"',
      'connection_security_policy="none"',
    ])
      expect(reviews).toContain(label);
    expect(text).toMatch(
      /istio_requests_total\{[^}]*source_workload="ingress"[^}]*destination_service="unknown"[^}]*response_flags="NR"[^}]*\} 1/,
    );
    const buckets = text
      .split('\n')
      .filter((l) => l.startsWith('istio_request_duration_milliseconds_bucket') && l.includes('destination_workload="productpage-v1"'));
    expect(buckets.map((l) => /le="([^"]+)"/.exec(l)![1])).toEqual([
      '0.5',
      '1',
      '5',
      '10',
      '25',
      '50',
      '100',
      '250',
      '500',
      '1000',
      '2500',
      '5000',
      '10000',
      '30000',
      '60000',
      '300000',
      '600000',
      '1800000',
      '3600000',
      '+Inf',
    ]);
    expect(buckets.find((l) => l.includes('le="5"'))).toMatch(/ 2$/);
    expect(buckets.find((l) => l.includes('le="500"'))).toMatch(/ 2$/);
    expect(buckets.find((l) => l.includes('le="1000"'))).toMatch(/ 3$/);
    expect(text).toMatch(/istio_request_duration_milliseconds_sum\{[^}]*productpage-v1[^}]*\} 705/);
    expect(text).toContain('# TYPE istio_response_bytes histogram');
  });
});

describe('TopologyWindow', () => {
  it('sums the window per edge: rates, success, percentiles, shares per version and observed release shares', () => {
    let now = 1_000_000;
    const w = new TopologyWindow({ seconds: 60, now: () => now });
    for (let s = 0; s < 10; s++) {
      w.add([edge(null, 'productpage:v1', 200, Array(10).fill(3)), edge('productpage:v1', 'reviews:v1', 200, Array(5).fill(2))]);
      w.add([edge('productpage:v1', 'reviews:v2', 200, Array(4).fill(8)), edge('productpage:v1', 'reviews:v2', 500, [9])]);
      now += 1000;
    }
    const t = w.topology(10, {
      versions: [{ service: 'ratings', version: 'v1' }],
      releases: [{ name: 'reviews-canary', service: 'reviews' }],
    });
    const e = (id: string) => t.edges.find((x) => x.id === id)!;
    expect(e('productpage:v1>reviews:v1').requestRate).toBeCloseTo(5, 5);
    expect(e('productpage:v1>reviews:v2').successRate).toBeCloseTo(0.8, 5);
    expect(e('productpage:v1>reviews:v2').responses).toMatchObject({ '2xx': 40, '5xx': 10 });
    expect(e('productpage:v1>reviews:v1').share).toBe(0.5);
    expect(e('ingress>productpage:v1').latencyMs.p50).toBeGreaterThan(2.5);
    expect(e('ingress>productpage:v1').latencyMs.p50).toBeLessThan(3.5);
    expect(t.nodes.map((n) => n.id)).toEqual([
      'ingress',
      'productpage',
      'productpage:v1',
      'ratings',
      'ratings:v1',
      'reviews',
      'reviews:v1',
      'reviews:v2',
    ]);
    expect(t.nodes.find((n) => n.id === 'reviews')!.requestRate).toBeCloseTo(10, 5);
    expect(t.nodes.find((n) => n.id === 'ratings:v1')!.successRate).toBeNull();
    expect(t.releases).toEqual([{ name: 'reviews-canary', service: 'reviews', observed: { v1: 0.5, v2: 0.5 }, requests: 100 }]);
    // Past the window the traffic is gone.
    now += 20_000;
    expect(w.topology(10).edges).toEqual([]);
  });

  it('divides by the seconds that hold data, so traffic that just started reads its real rate', () => {
    let now = 2_000_000;
    const w = new TopologyWindow({ seconds: 600, now: () => now });
    for (let s = 0; s < 10; s++) {
      w.add([edge('productpage:v1', 'reviews:v1', 200, Array(2).fill(2))]);
      now += 1000;
    }
    // 10 s of 2 req/s inside a 60 s window: 2 req/s, not 20/60.
    expect(w.topology(60).edges[0]!.requestRate).toBeCloseTo(2, 5);
    // After 50 quiet seconds the same 20 requests spread over the 60 s they span.
    now += 50_000;
    expect(w.topology(60).edges[0]!.requestRate).toBeCloseTo(20 / 60, 2);
  });
});

function span(
  traceId: string,
  spanId: string,
  parent: string | null,
  service: string,
  start: number,
  durationMs: number,
  error = false,
): SpanData {
  return {
    traceId,
    spanId,
    parentSpanId: parent,
    kind: parent === null || service === 'ingress' ? 'client' : 'server',
    name: `GET /${service}`,
    service,
    version: 'v1',
    instance: `${service}-v1-1`,
    startTime: start,
    durationMs,
    statusCode: error ? 500 : 200,
    error,
    host: 'h',
    pid: 42,
    peerAddress: '127.0.0.1:1',
    method: 'GET',
    path: `/${service}`,
    peerService: service,
    responseFlags: '-',
    retried: false,
    mirrored: false,
  };
}

describe('SqliteTraceStore', () => {
  it('lists traces by service, duration, errors and time, returns a span tree, and trims by age and size', () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const store = new SqliteTraceStore({ file: join(dir, 'traces.db'), maxAgeMs: 60_000, maxSpans: 6, now: () => now });
    try {
      const t1 = 'a'.repeat(32);
      const t2 = 'b'.repeat(32);
      store.add([
        span(t1, '1'.repeat(16), null, 'ingress', now, 30),
        span(t1, '2'.repeat(16), '1'.repeat(16), 'productpage', now + 1, 28),
        span(t1, '3'.repeat(16), '2'.repeat(16), 'reviews', now + 5, 10),
      ]);
      store.add([
        span(t2, '4'.repeat(16), null, 'ingress', now + 100, 5),
        span(t2, '5'.repeat(16), '4'.repeat(16), 'details', now + 101, 4, true),
      ]);
      expect(store.list().map((t) => t.traceId)).toEqual([t2, t1]);
      expect(store.list({ service: 'reviews' })).toMatchObject([
        { traceId: t1, rootService: 'ingress', rootOperation: 'GET /ingress', spanCount: 3, durationMs: 30, errors: 0 },
      ]);
      expect(store.list({ minDurationMs: 20 }).map((t) => t.traceId)).toEqual([t1]);
      expect(store.list({ errors: true }).map((t) => t.traceId)).toEqual([t2]);
      expect(store.list({ since: now + 50 }).map((t) => t.traceId)).toEqual([t2]);
      const tree = store.get(t1)!;
      expect(tree.spans.map((s) => s.service)).toEqual(['ingress', 'productpage', 'reviews']);
      expect(tree.spans[0]!.children).toEqual(['2'.repeat(16)]);
      expect(store.get('c'.repeat(32))).toBeNull();
      // Size: 7 spans > 6 -> the oldest trace goes.
      store.add([
        span('d'.repeat(32), '6'.repeat(16), null, 'ingress', now + 200, 1),
        span('d'.repeat(32), '7'.repeat(16), '6'.repeat(16), 'x', now + 200, 1),
      ]);
      store.trim();
      expect(store.list().map((t) => t.traceId)).toEqual(['d'.repeat(32), t2]);
      // Age: a minute later everything is gone.
      now += 61_000;
      store.trim();
      expect(store.list()).toEqual([]);
      expect(store.spanCount()).toBe(0);
    } finally {
      store.close();
    }
  });
});

// biome-ignore lint/suspicious/noExplicitAny: the OTLP JSON is asserted field by field
type Json = any;

describe('OtlpExporter', () => {
  it('POSTs spans to <endpoint>/v1/traces in the OTLP JSON encoding', async () => {
    const received: { url: string; type: string; body: Json }[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ url: req.url ?? '', type: req.headers['content-type'] ?? '', body: JSON.parse(body) });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const exporter = new OtlpExporter({ endpoint: `http://127.0.0.1:${port}`, intervalMs: 60_000 });
    try {
      const t = 'e'.repeat(32);
      exporter.export([
        span(t, '1'.repeat(16), null, 'ingress', 1_700_000_000_000.5, 3),
        span(t, '2'.repeat(16), '1'.repeat(16), 'reviews', 1_700_000_000_001, 2, true),
      ]);
      await exporter.flush();
      expect(received).toHaveLength(1);
      expect(received[0]!.url).toBe('/v1/traces');
      expect(received[0]!.type).toContain('application/json');
      const rs = received[0]!.body.resourceSpans;
      expect(rs).toHaveLength(2);
      const reviews = rs.find((r: Json) =>
        r.resource.attributes.some((a: Json) => a.key === 'service.name' && a.value.stringValue === 'reviews'),
      );
      const s = reviews.scopeSpans[0].spans[0];
      expect(s).toMatchObject({ traceId: t, spanId: '2'.repeat(16), parentSpanId: '1'.repeat(16), kind: 2, status: { code: 2 } });
      expect(s.startTimeUnixNano).toBe('1700000000001000000');
      expect(s.endTimeUnixNano).toBe('1700000000003000000');
      expect(reviews.resource.attributes).toEqual(expect.arrayContaining([{ key: 'process.pid', value: { intValue: '42' } }]));
      expect(exporter.exported).toBe(2);
    } finally {
      await exporter.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
