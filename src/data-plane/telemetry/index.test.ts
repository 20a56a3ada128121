import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../../../test/support/test-harness.js';
import { MeshProxy } from '../mesh-proxy.js';
import { compileRouteFile } from '../../route-file/compile-route-file.js';
import { runProxy } from '../run-proxy.js';
import { silentProxyLogger } from '../proxy-logger.js';
import { serverSpan } from '../../../test/support/telemetry-fixtures.js';
import { call, freePort, routeTable, startUpstream, type TestUpstream } from '../../../test/support/test-upstreams.js';
import type { OutboundListener } from '../../core/route-table.js';
import type { RequestParty, RequestRecord } from '../request-observer.js';
import { isListenerParty, listenerParty } from '../route-snapshot.js';
import { ProxyTelemetry } from './proxy-telemetry.js';
import { SpanBuffer } from './span-buffer.js';

/**
 * The proxy's telemetry against a real control plane over loopback: trace propagation on the wire, batches
 * shipped by the timer-free `tick()`, and what a user then reads from the API and from both `/metrics`.
 */
let cp: TestControlPlane;
let cpUrl: string;
let proxy: MeshProxy;
let telemetry: ProxyTelemetry;
let ingress: number;
let outbound: number;
let metricsPort: number;
const upstreams: Record<string, TestUpstream> = {};
const DETAILS_PID = 4242;

beforeAll(async () => {
  cp = await startTestControlPlane();
  cpUrl = await cp.cp.app.listen({ host: '127.0.0.1', port: 0 });
  telemetry = new ProxyTelemetry({
    controlPlane: cpUrl,
    token: cp.token,
    traceSampling: 1,
    intervalMs: 3_600_000,
    logger: silentProxyLogger,
  });
  metricsPort = (await telemetry.listenMetrics('127.0.0.1', 0)).port;
  proxy = new MeshProxy({ logger: silentProxyLogger, observer: telemetry, tracer: telemetry.tracer });
  ingress = (await proxy.listenIngress('127.0.0.1', 0)).port;
  for (const name of ['reviews-v1', 'reviews-v2', 'details-v1']) upstreams[name] = await startUpstream(name);
  outbound = await freePort();
  const table = routeTable(
    1,
    [
      {
        name: 'reviews',
        versions: { v1: [upstreams['reviews-v1']!], v2: [upstreams['reviews-v2']!] },
        rules: [
          {
            route: [
              { version: 'v1', weight: 50 },
              { version: 'v2', weight: 50 },
            ],
          },
        ],
        ingressPaths: ['/'],
      },
      { name: 'details', versions: { v1: [upstreams['details-v1']!] }, rules: [{ route: [{ version: 'v1', weight: 100 }] }] },
    ],
    [{ port: outbound, service: 'productpage', version: 'v1', instance: 'productpage-v1-1', pid: 1234 }],
  );
  // The caller behind the outbound listener and details-v1-1 run as processes the mesh knows (a process runtime
  // puts their pids in the table); the reviews endpoints do not say theirs, like an endpoints workload's.
  table.services.find((s) => s.name === 'details')!.versions[0]!.endpoints[0]!.pid = DETAILS_PID;
  await proxy.applyRouteTable(table);
});

afterAll(async () => {
  await proxy?.close();
  await telemetry?.close();
  for (const u of Object.values(upstreams)) await u.close();
  await cp?.destroy();
});

const lastSeen = (name: string) => upstreams[name]!.requests.at(-1)!.headers;

describe('trace propagation', () => {
  it('continues a W3C trace: same trace id, a new parent span id upstream, B3 headers kept in step', async () => {
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const r = await call(outbound, {
      headers: {
        host: 'details',
        traceparent: incoming,
        'x-b3-traceid': '4bf92f3577b34da6a3ce929d0e0e4736',
        'x-b3-spanid': '00f067aa0ba902b7',
        'x-b3-sampled': '1',
      },
    });
    expect(r.status).toBe(200);
    const seen = lastSeen('details-v1');
    const m = /^00-4bf92f3577b34da6a3ce929d0e0e4736-([0-9a-f]{16})-01$/.exec(String(seen.traceparent));
    expect(m).not.toBeNull();
    expect(m![1]).not.toBe('00f067aa0ba902b7');
    expect(seen['x-b3-traceid']).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(seen['x-b3-spanid']).toBe(m![1]);
    expect(seen['x-b3-parentspanid']).toMatch(/^[0-9a-f]{16}$/);
    expect(seen['x-b3-sampled']).toBe('1');
  });

  it('accepts a B3 single header and starts a sampled trace when there is none', async () => {
    await call(outbound, { headers: { host: 'details', b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1' } });
    const seen = lastSeen('details-v1');
    expect(String(seen.traceparent)).toMatch(/^00-80f198ee56343ba864fe8b2a57d3eff7-[0-9a-f]{16}-01$/);
    expect(String(seen.b3)).toMatch(/^80f198ee56343ba864fe8b2a57d3eff7-[0-9a-f]{16}-1-[0-9a-f]{16}$/);
    await call(outbound, { headers: { host: 'details' } });
    expect(String(lastSeen('details-v1').traceparent)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('an unsampled new request carries B3 "do not sample" so the next hops keep the decision', async () => {
    telemetry.tracer.sampling = 0;
    try {
      await call(outbound, { headers: { host: 'details' } });
      expect(lastSeen('details-v1').b3).toBe('0');
      expect(lastSeen('details-v1').traceparent).toBeUndefined();
      // The next hop reads the decision and passes it on unchanged, even at 100%.
      telemetry.tracer.sampling = 1;
      await call(outbound, { headers: { host: 'details', b3: '0' } });
      expect(lastSeen('details-v1').b3).toBe('0');
      expect(lastSeen('details-v1').traceparent).toBeUndefined();
    } finally {
      telemetry.tracer.sampling = 1;
    }
  });

  it("leaves a caller's unsampled context untouched and records no span for it", async () => {
    const incoming = '00-11111111111111111111111111111111-2222222222222222-00';
    await call(outbound, { headers: { host: 'details', traceparent: incoming } });
    expect(lastSeen('details-v1').traceparent).toBe(incoming);
    await telemetry.tick();
    const r = await cp.call('GET', '/api/v1/traces/11111111111111111111111111111111');
    expect(r.status).toBe(404);
  });
});

describe('batches to the control plane', () => {
  it('a traced call becomes a client span (the caller) and a server span (the callee), correctly parented', async () => {
    const incoming = '00-abcdefabcdefabcdefabcdefabcdef01-00f067aa0ba902b7-01';
    await call(outbound, { url: '/details/7', headers: { host: 'details', traceparent: incoming } });
    const upstreamParent = String(lastSeen('details-v1').traceparent).split('-')[2];
    await telemetry.tick();
    const r = await cp.call('GET', '/api/v1/traces/abcdefabcdefabcdefabcdefabcdef01');
    expect(r.status).toBe(200);
    const [client, server] = r.body.spans;
    expect(client).toMatchObject({
      kind: 'client',
      parentSpanId: '00f067aa0ba902b7',
      service: 'productpage',
      version: 'v1',
      instance: 'productpage-v1-1',
      name: 'GET /details/7',
      statusCode: 200,
      peerAddress: upstreams['details-v1']!.address,
      pid: 1234,
      error: false,
    });
    expect(server).toMatchObject({
      kind: 'server',
      parentSpanId: client.spanId,
      spanId: upstreamParent,
      service: 'details',
      instance: 'details-v1-1',
      // The callee's is: the span names the process that served it.
      pid: DETAILS_PID,
    });
    const list = await cp.call('GET', '/api/v1/traces?service=details&limit=50');
    expect(list.body.traces.map((t: { traceId: string }) => t.traceId)).toContain('abcdefabcdefabcdefabcdefabcdef01');
  });

  it('a 50/50 split shows in the topology, the release-free shares, and both /metrics', async () => {
    for (let i = 0; i < 40; i++) expect((await call(ingress, { url: `/r/${i}` })).status).toBe(200);
    expect((await call(outbound, { headers: { host: 'nosuch' } })).status).toBe(404);
    await telemetry.tick();
    // The topology reads complete seconds: wait for this one to end.
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
    const t = (await cp.call('GET', '/api/v1/topology?window=60')).body;
    const edge = (id: string) => t.edges.find((e: { id: string }) => e.id === id);
    expect(edge('ingress>reviews:v1')).toMatchObject({ requests: 20, share: 0.5, successRate: 1 });
    expect(edge('ingress>reviews:v2')).toMatchObject({ requests: 20, share: 0.5 });
    expect(edge('productpage:v1>unknown')).toMatchObject({ requests: 1, responses: { '4xx': 1 } });
    expect(edge('ingress>reviews:v1').latencyMs.p99).toBeGreaterThan(0);
    expect(t.nodes.map((n: { id: string }) => n.id)).toEqual(
      expect.arrayContaining(['ingress', 'reviews', 'reviews:v1', 'reviews:v2', 'productpage:v1', 'details:v1']),
    );

    const cpMetrics = await cp.cp.app.inject({ method: 'GET', url: '/metrics' });
    expect(cpMetrics.headers['content-type']).toContain('text/plain');
    const line = (text: string, version: string) =>
      text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('istio_requests_total{') &&
            l.includes('source_workload="ingress"') &&
            l.includes(`destination_version="${version}"`) &&
            l.includes('response_code="200"'),
        );
    expect(line(cpMetrics.body, 'v1')).toMatch(/ 20$/);
    expect(line(cpMetrics.body, 'v2')).toMatch(/ 20$/);
    const own = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text());
    expect(line(own, 'v1')).toMatch(/ 20$/);
    expect(own).toContain('response_flags="NR"');
  });

  it('keeps batches while the control plane is unreachable and refuses a wrong token', async () => {
    const port = await freePort();
    const offline = new ProxyTelemetry({ controlPlane: `http://127.0.0.1:${port}`, token: 'x', intervalMs: 3_600_000 });
    try {
      offline.onRequest({
        source: null,
        destination: { service: 'reviews', version: 'v1', instance: 'r1' },
        method: 'GET',
        path: '/',
        status: 200,
        startTime: Date.now(),
        durationMs: 1,
        flags: { noRoute: false, upstreamFailure: false, retried: false, mirrored: false },
        bytesIn: 0,
        bytesOut: 2,
        upstreamAddress: '127.0.0.1:1',
        traceparent: undefined,
        peerAddress: '127.0.0.1',
        traceId: '',
        parentSpanId: '',
        clientSpanId: '',
        serverSpanId: '',
        sampled: false,
      });
      await offline.tick();
      expect(offline.shipped).toBe(0);
      expect(offline.metrics.render()).toMatch(/istio_requests_total\{[^}]*destination_version="v1"[^}]*\} 1/);
    } finally {
      await offline.close();
    }
    const refused = await fetch(`${cpUrl}/api/v1/telemetry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer wrong' },
      body: '{}',
    });
    expect(refused.status).toBe(401);
    const invalid = await cp.call('POST', '/api/v1/telemetry', {
      proxy: { id: 'p', host: 'h', pid: 1 },
      start: 0,
      end: 1,
      edges: [{ code: 'x' }],
      spans: [],
    });
    expect(invalid.status).toBe(400);
    expect(invalid.text).toContain('edges');
  });
});

describe('runProxy', () => {
  it('a static proxy with --metrics-port serves Istio metrics on its own listener; without telemetry flags it traces nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'canary-proxy-metrics-'));
    const file = join(dir, 'routes.yaml');
    writeFileSync(
      file,
      `services:\n  - name: reviews\n    port: 9080\n    ingress: { paths: ["/"] }\n    versions:\n      - { name: v1, workload: { kind: endpoints, addresses: ["${upstreams['reviews-v1']!.address}"] } }\n    routes:\n      - route: [ { version: v1, weight: 100 } ]\n`,
    );
    const running = await runProxy({
      compileRouteFile,
      config: file,
      listen: '127.0.0.1:0',
      metricsPort: 0,
      traceSampling: 1,
      handleSignals: false,
      logger: silentProxyLogger,
      watch: false,
    });
    const plain = await runProxy({
      compileRouteFile,
      config: file,
      listen: '127.0.0.1:0',
      handleSignals: false,
      logger: silentProxyLogger,
      watch: false,
    });
    try {
      expect(running.telemetry).not.toBeNull();
      for (let i = 0; i < 3; i++) expect((await call(running.address.port, { url: '/x' })).status).toBe(200);
      expect(String(lastSeen('reviews-v1').traceparent)).toMatch(/-01$/);
      await running.telemetry!.tick();
      const text = await fetch(`http://127.0.0.1:${running.metricsAddress!.port}/metrics`).then((r) => r.text());
      expect(text).toMatch(
        /istio_requests_total\{[^}]*source_workload="ingress"[^}]*destination_workload="reviews-v1"[^}]*response_code="200"[^}]*\} 3/,
      );
      expect(text).toMatch(/istio_request_duration_milliseconds_count\{[^}]*reviews-v1[^}]*\} 3/);
      expect(plain.telemetry).toBeNull();
      await call(plain.address.port, { url: '/y' });
      expect(lastSeen('reviews-v1').traceparent).toBeUndefined();
    } finally {
      await running.close();
      await plain.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('demo traffic', () => {
  it('is refused outside the demo, with the way to get it', async () => {
    const r = await cp.call('POST', '/api/v1/demo/traffic', { enabled: true, rate: 2 });
    expect(r.status).toBe(409);
    expect(r.body.error.message).toContain('canary up --demo bookinfo');
    expect((await cp.call('GET', '/api/v1/demo/traffic')).body).toEqual({ enabled: false, rate: 0, url: null, stats: null });
  });
});

/** A sampled request from `source` to `destination` as the proxy records it; `more` changes what a test needs. */
const sampledHop = (source: RequestParty | null, destination: RequestParty | null, more: Partial<RequestRecord> = {}): RequestRecord => ({
  source,
  destination,
  method: 'GET',
  path: '/reviews/0',
  status: 200,
  startTime: Date.now(),
  durationMs: 2,
  flags: { noRoute: false, upstreamFailure: false, retried: false, mirrored: false },
  bytesIn: 0,
  bytesOut: 10,
  upstreamAddress: '127.0.0.1:9081',
  traceparent: undefined,
  peerAddress: '127.0.0.1',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  parentSpanId: '',
  clientSpanId: '00f067aa0ba902b7',
  serverSpanId: '00f067aa0ba902b8',
  sampled: true,
  ...more,
});

describe('span pids', () => {
  const PROXY_PID = 777;

  it("a hop between two process instances: the client span carries the caller's pid, the server span the callee's", () => {
    const caller: OutboundListener = { port: 15001, service: 'productpage', version: 'v1', instance: 'productpage-v1-1', pid: 1001 };
    const buffer = new SpanBuffer('host-a', PROXY_PID, 'ingress@host-a:777');
    buffer.record(sampledHop(listenerParty(caller), { service: 'reviews', version: 'v2', instance: 'reviews-v2-1', pid: 2002 }));
    const { spans } = buffer.drain();
    expect(spans.map((s) => [s.kind, s.instance, s.pid, s.host])).toEqual([
      ['client', 'productpage-v1-1', 1001, 'host-a'],
      ['server', 'reviews-v2-1', 2002, 'host-a'],
    ]);
  });

  it("falls back to the proxy's pid for the ingress and for instances whose pid the table does not give", () => {
    const buffer = new SpanBuffer('host-a', PROXY_PID, 'ingress@host-a:777');
    // From outside to an endpoints workload (an address, no process of ours).
    buffer.record(sampledHop(null, { service: 'reviews', version: 'v1', instance: '127.0.0.1:9081', pid: undefined }));
    // From a static route file's listener (no pid) to a process instance.
    const staticCaller: OutboundListener = { port: 15002, service: 'productpage', version: 'v1', instance: 'productpage-v1-1' };
    buffer.record(sampledHop(listenerParty(staticCaller), { service: 'reviews', version: 'v2', instance: 'reviews-v2-1', pid: 2002 }));
    expect(buffer.drain().spans.map((s) => [s.kind, s.instance, s.pid])).toEqual([
      ['client', 'ingress@host-a:777', PROXY_PID],
      ['server', '127.0.0.1:9081', PROXY_PID],
      ['client', 'productpage-v1-1', PROXY_PID],
      ['server', 'reviews-v2-1', 2002],
    ]);
  });

  it('a restarted caller (same listener port, new pid) needs a new party, so spans follow the new process', () => {
    const before: OutboundListener = { port: 15001, service: 'productpage', version: 'v1', instance: 'productpage-v1-1', pid: 1001 };
    const party = listenerParty(before);
    expect(isListenerParty(party, { ...before })).toBe(true);
    expect(isListenerParty(party, { ...before, pid: 1003 })).toBe(false);
    expect(isListenerParty(party, { ...before, instance: 'productpage-v1-2' })).toBe(false);
    expect(isListenerParty(null, before)).toBe(false);
  });
});

describe('outlier ejections reach the control plane', () => {
  it("an endpoint the proxy ejects is marked in the service's instances, and unmarked when it is back", async () => {
    const good = await startUpstream('flaky-good');
    const bad = await startUpstream('flaky-bad', (req, res) => {
      req.resume();
      res.writeHead(503, { 'content-length': '0' });
      res.end();
    });
    const created = await cp.call('POST', '/api/v1/services', {
      name: 'flaky',
      versions: [{ name: 'v1', workload: { kind: 'endpoints', addresses: [good.address, bad.address] } }],
    });
    expect(created.status).toBe(201);
    let now = Date.now();
    const shipper = new ProxyTelemetry({ controlPlane: cpUrl, token: cp.token, intervalMs: 3_600_000, logger: silentProxyLogger });
    const flaky = new MeshProxy({ logger: silentProxyLogger, observer: shipper, clock: () => now });
    shipper.watchOutliers(flaky.outliers);
    try {
      const port = (await flaky.listenIngress('127.0.0.1', 0)).port;
      // Instances named by address, as the endpoints runtime names them.
      await flaky.applyRouteTable(
        routeTable(1, [
          { name: 'flaky', versions: { v1: [good.address, bad.address] }, rules: [{ route: [{ version: 'v1', weight: 100 }] }] },
        ]),
      );
      for (let i = 0; i < 12; i++) await call(port, { headers: { host: 'flaky' } });
      await shipper.tick();
      const instances = async () =>
        Object.fromEntries(
          (await cp.call('GET', '/api/v1/services/flaky')).body.status.versions[0].instances.map(
            (i: { name: string; ejectedUntil?: string }) => [i.name, i.ejectedUntil],
          ),
        );
      expect(await instances()).toEqual({ [good.address]: undefined, [bad.address]: new Date(now + 30_000).toISOString() });
      // Its time is up: the next batch says so (no traffic needed), and the mark goes.
      now += 30_000;
      const shippedBefore = shipper.shipped;
      await shipper.tick();
      expect(shipper.shipped).toBe(shippedBefore + 1);
      expect(await instances()).toEqual({ [good.address]: undefined, [bad.address]: undefined });
    } finally {
      await flaky.close();
      await shipper.close();
      await good.close();
      await bad.close();
    }
  });
});

describe('one very long request path (issue 13)', () => {
  const ingressRequests = (text: string) =>
    text
      .split('\n')
      .filter(
        (l) =>
          l.startsWith('istio_requests_total{') && l.includes('source_workload="ingress"') && l.includes('destination_service="reviews'),
      )
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);

  it('costs no metric of the other requests: 20 ordinary requests and one 3,000-character path count 21', async () => {
    const metrics = async () => (await cp.cp.app.inject({ method: 'GET', url: '/metrics' })).body;
    await telemetry.tick();
    const before = ingressRequests(await metrics());
    for (let i = 0; i < 20; i++) expect((await call(ingress, { url: `/ordinary/${i}` })).status).toBe(200);
    expect((await call(ingress, { url: `/${'x'.repeat(3000)}` })).status).toBe(200);
    await telemetry.tick();
    expect(ingressRequests(await metrics()) - before).toBe(21);
    // Its span is kept too, cut to the limit with a mark.
    const list = await cp.call('GET', '/api/v1/traces?service=reviews&limit=100');
    const long = list.body.traces.find((t: { rootOperation: string }) => t.rootOperation.startsWith('GET /xxxx'));
    expect(long?.rootOperation).toHaveLength(2048);
    expect(long?.rootOperation.endsWith('…')).toBe(true);
  });

  it('the proxy cuts the span name and path before it sends them', () => {
    const buffer = new SpanBuffer('h', 1, 'ingress@h:1');
    buffer.record(
      sampledHop(
        null,
        { service: 'reviews', version: 'v1', instance: 'reviews-v1-1', pid: 2 },
        { path: `/${'z'.repeat(3000)}`, durationMs: 1, bytesOut: 1, upstreamAddress: '127.0.0.1:1' },
      ),
    );
    const { spans } = buffer.drain();
    expect(spans.map((s) => [s.name.length, s.path.length])).toEqual([
      [2048, 2048],
      [2048, 2048],
    ]);
    expect(spans[0]!.path.endsWith('…')).toBe(true);
  });

  it('the control plane cuts an over-long field it is sent (an older proxy), keeps the rest of the batch and counts the cut', async () => {
    const span = (path: string, spanId: string) =>
      serverSpan('reviews:v1', path, { traceId: 'cafecafecafecafecafecafecafecafe', spanId, peerService: 'reviews' });
    const truncated = (text: string) => Number(/^canary_telemetry_truncated_fields_total (\d+)$/m.exec(text)?.[1]);
    const before = truncated((await cp.cp.app.inject({ method: 'GET', url: '/metrics' })).body);
    const r = await cp.call('POST', '/api/v1/telemetry', {
      proxy: { id: 'older-proxy', host: 'h', pid: 1 },
      start: Date.now() - 1000,
      end: Date.now(),
      edges: [],
      spans: [span('/short', '00000000000000a1'), span(`/${'y'.repeat(3000)}`, '00000000000000a2')],
    });
    expect(r.status, r.text).toBe(200);
    expect(r.body.accepted).toEqual({ edges: 0, spans: 2 });
    const after = truncated((await cp.cp.app.inject({ method: 'GET', url: '/metrics' })).body);
    expect(after - before).toBe(2); // name and path
    const trace = (await cp.call('GET', '/api/v1/traces/cafecafecafecafecafecafecafecafe')).body;
    expect(trace.spans.map((s: { path: string }) => s.path.length).sort((a: number, b: number) => a - b)).toEqual([6, 2048]);
  });
});
