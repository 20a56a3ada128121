import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { JaegerTraces } from './jaeger-traces.js';
import { PrometheusTelemetry } from './prometheus-telemetry.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A loopback HTTP server answering with `answer(path, query)` as JSON; records the queries. */
async function fakeHttp(answer: (path: string, query: URLSearchParams) => [number, unknown]): Promise<{ url: string; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push(url.searchParams.get('query') ?? url.pathname);
    const [status, body] = answer(url.pathname, url.searchParams);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const vector = (rows: [Record<string, string>, number][]) => ({
  status: 'success',
  data: { resultType: 'vector', result: rows.map(([metric, v]) => ({ metric, value: [1_700_000_000, String(v)] })) },
});

describe('PrometheusTelemetry: Istio standard metrics -> the local API shapes', () => {
  it('gives each version’s observed share of a service’s requests', async () => {
    const prom = await fakeHttp(() => [
      200,
      vector([
        [{ destination_version: 'v1' }, 30],
        [{ destination_version: 'v2' }, 70],
      ]),
    ]);
    const t = new PrometheusTelemetry({ url: prom.url, namespace: 'demo' });
    expect(await t.observedShares('reviews', 60)).toEqual({ observed: { v1: 0.3, v2: 0.7 }, requests: 100 });
    expect(prom.seen[0]).toBe(
      'sum by (destination_version) (increase(istio_requests_total{reporter="destination",destination_service_namespace="demo",destination_service_name="reviews"}[60s]))',
    );
  });

  it('builds the topology: ingress -> productpage -> reviews v1/v2, with rates, success and latency', async () => {
    const pp = { source_app: 'productpage', source_version: 'v1', source_workload: 'productpage-v1' };
    const prom = await fakeHttp((_path, q) => {
      const query = q.get('query') ?? '';
      if (query.startsWith('histogram_quantile(0.95'))
        return [200, vector([[{ ...pp, destination_service_name: 'reviews', destination_version: 'v2' }, 42]])];
      if (query.startsWith('histogram_quantile')) return [200, vector([])];
      return [
        200,
        vector([
          [
            {
              source_app: 'istio-ingressgateway',
              source_workload: 'istio-ingressgateway',
              destination_service_name: 'productpage',
              destination_version: 'v1',
              response_code: '200',
            },
            60,
          ],
          [{ ...pp, destination_service_name: 'reviews', destination_version: 'v1', response_code: '200' }, 30],
          [{ ...pp, destination_service_name: 'reviews', destination_version: 'v2', response_code: '200' }, 27],
          [{ ...pp, destination_service_name: 'reviews', destination_version: 'v2', response_code: '503' }, 3],
        ]),
      ];
    });
    const topo = await new PrometheusTelemetry({ url: prom.url, namespace: 'demo' }).topology(60, [{ name: 'rc', service: 'reviews' }]);
    expect(topo.nodes.map((n) => n.id)).toEqual(['ingress', 'productpage', 'productpage:v1', 'reviews', 'reviews:v1', 'reviews:v2']);
    const edge = topo.edges.find((e) => e.id === 'productpage:v1>reviews:v2')!;
    expect(edge).toMatchObject({
      requests: 30,
      requestRate: 0.5,
      successRate: 0.9,
      share: 0.5,
      latencyMs: { p50: null, p95: 42, p99: null },
    });
    expect(edge.responses).toEqual({ '2xx': 27, '3xx': 0, '4xx': 0, '5xx': 3, other: 0 });
    expect(topo.edges.find((e) => e.source === 'ingress')!.target).toBe('productpage:v1');
    expect(topo.releases).toEqual([{ name: 'rc', service: 'reviews', observed: { v1: 0.5, v2: 0.5 }, requests: 60 }]);
  });

  it('says which Prometheus refused or could not be reached', async () => {
    const prom = await fakeHttp(() => [400, { status: 'error', errorType: 'bad_data', error: 'parse error at char 5' }]);
    await expect(new PrometheusTelemetry({ url: prom.url, namespace: 'd' }).observedShares('x')).rejects.toThrow(
      `Prometheus at ${prom.url} refused the query: parse error at char 5`,
    );
    await expect(
      new PrometheusTelemetry({ url: 'http://127.0.0.1:9', namespace: 'd', timeoutMs: 2000 }).observedShares('x'),
    ).rejects.toThrow('Prometheus at http://127.0.0.1:9 cannot be reached');
  });
});

describe('JaegerTraces: Envoy spans from Jaeger -> the local trace shapes', () => {
  const trace = {
    traceID: 'a1b2c3d4e5f60718',
    processes: {
      p1: { serviceName: 'productpage.demo', tags: [{ key: 'hostname', value: 'productpage-v1-abc' }] },
      p2: { serviceName: 'reviews.demo', tags: [{ key: 'hostname', value: 'reviews-v2-xyz' }] },
    },
    spans: [
      {
        traceID: 'a1b2c3d4e5f60718',
        spanID: '0000000000000001',
        operationName: 'productpage.demo.svc.cluster.local:9080/productpage',
        startTime: 1_700_000_000_000_000,
        duration: 25_000,
        processID: 'p1',
        tags: [
          { key: 'span.kind', value: 'server' },
          { key: 'http.status_code', value: '200' },
          { key: 'http.method', value: 'GET' },
          { key: 'http.url', value: 'http://productpage:9080/productpage?u=normal' },
          { key: 'istio.canonical_service', value: 'productpage' },
          { key: 'istio.canonical_revision', value: 'v1' },
          { key: 'node_id', value: 'sidecar~10.0.0.5~productpage-v1-abc.demo~demo.svc.cluster.local' },
        ],
      },
      {
        traceID: 'a1b2c3d4e5f60718',
        spanID: '0000000000000002',
        references: [{ refType: 'CHILD_OF', spanID: '0000000000000001' }],
        operationName: 'reviews.demo.svc.cluster.local:9080/*',
        startTime: 1_700_000_000_005_000,
        duration: 12_000,
        processID: 'p2',
        tags: [
          { key: 'http.status_code', value: '503' },
          { key: 'error', value: true },
          { key: 'istio.canonical_service', value: 'reviews' },
          { key: 'istio.canonical_revision', value: 'v2' },
          { key: 'upstream_cluster', value: 'inbound|9080||' },
        ],
      },
    ],
  };

  it('lists traces of a service and gives one with its span tree', async () => {
    const jaeger = await fakeHttp((path) => [200, { data: path.endsWith('/nope') ? [] : [trace] }]);
    const traces = new JaegerTraces({ url: `${jaeger.url}/jaeger`, namespace: 'demo' });
    const list = await traces.list({ service: 'productpage', minDurationMs: 10, limit: 5 });
    expect(jaeger.seen[0]).toBe('/jaeger/api/traces');
    expect(list).toEqual([
      {
        traceId: '0000000000000000a1b2c3d4e5f60718',
        rootService: 'productpage',
        rootOperation: 'productpage.demo.svc.cluster.local:9080/productpage',
        startTime: new Date(1_700_000_000_000).toISOString(),
        durationMs: 25,
        spanCount: 2,
        errors: 1,
        services: ['productpage', 'reviews'],
      },
    ]);
    const one = (await traces.get('a1b2c3d4e5f60718'))!;
    expect(one.spans.map((s) => [s.service, s.version, s.instance, s.statusCode, s.error, s.children])).toEqual([
      ['productpage', 'v1', 'productpage-v1-abc', 200, false, ['0000000000000002']],
      ['reviews', 'v2', 'reviews-v2-xyz', 503, true, []],
    ]);
    expect(one.spans[0]).toMatchObject({ method: 'GET', path: '/productpage', host: 'productpage-v1-abc', durationMs: 25 });
    expect(await traces.get('nope')).toBeNull();
  });
});
