import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Release } from '../core/index.js';
import { TopologyWindow } from '../telemetry/topology-window.js';
import { reviewsEdge } from '../../test/support/analysis-fixtures.js';
import { FINE_EDGES, LocalAnalysisMetrics, PrometheusAnalysisMetrics } from './analysis-metrics.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

const release = { name: 'rc', service: 'reviews', baseline: 'v1', candidate: { name: 'v2' } } as unknown as Release;

describe('LocalAnalysisMetrics', () => {
  it('reads both versions over the same whole seconds, from every caller, with the latency in fine bins', async () => {
    let now = 1_000_000_000;
    const w = new TopologyWindow({ seconds: 60, now: () => now });
    const edge = reviewsEdge;
    w.add([edge('v1', 200, 8, 4), edge('v2', 200, 1, 40), edge('v2', 503, 1, 40)]);
    now += 1000;
    w.add([edge('v1', 200, 5, 4)]); // the next second: outside [from, from + 1)
    const m = new LocalAnalysisMetrics(w);
    const s = await m.sample(release, [], 1_000_000, 1_000_001);
    expect(s.baseline.requests).toBe(8);
    expect(s.candidate).toMatchObject({ requests: 2, failures: 1 });
    const bin = s.candidate.latency[0]!;
    expect(FINE_EDGES[bin - 1]! <= 40 && 40 < FINE_EDGES[bin]!).toBe(true);
    expect((await m.sample(release, [], 1_000_000, 1_000_002)).baseline.requests).toBe(13);
  });
});

describe('PrometheusAnalysisMetrics', () => {
  it("reads Istio's metrics over exactly the interval, converts cumulative buckets, and answers prometheus checks", async () => {
    const seen: { query: string; time: string }[] = [];
    const server = createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      const query = url.searchParams.get('query')!;
      seen.push({ query, time: url.searchParams.get('time')! });
      const vector = (rows: [Record<string, string>, number][]) => ({
        status: 'success',
        data: { resultType: 'vector', result: rows.map(([metric, v]) => ({ metric, value: [1, String(v)] })) },
      });
      let body: unknown;
      if (query.includes('istio_requests_total'))
        body = vector([
          [{ destination_version: 'v1', response_code: '200' }, 80],
          [{ destination_version: 'v2', response_code: '200' }, 14],
          [{ destination_version: 'v2', response_code: '503' }, 6],
        ]);
      else if (query.includes('_bucket'))
        body = vector([
          [{ destination_version: 'v1', le: '5' }, 70],
          [{ destination_version: 'v1', le: '10' }, 80],
          [{ destination_version: 'v1', le: '+Inf' }, 80],
          [{ destination_version: 'v2', le: '5' }, 0],
          [{ destination_version: 'v2', le: '10' }, 15],
          [{ destination_version: 'v2', le: '+Inf' }, 20],
        ]);
      else if (query === 'bad(') body = { status: 'error', error: 'parse error' };
      else body = { status: 'success', data: { resultType: 'scalar', result: [1, '0.25'] } };
      res
        .writeHead(body && (body as { status: string }).status === 'error' ? 400 : 200, { 'content-type': 'application/json' })
        .end(JSON.stringify(body));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const m = new PrometheusAnalysisMetrics({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, namespace: 'demo' });
    const s = await m.sample(
      release,
      [
        { metric: 'successRate' },
        { metric: 'prometheus', query: 'sum(rate(x{app="{{service}}",version="{{candidate}}"}[{{interval}}]))', max: 0.1 },
        { metric: 'prometheus', query: 'bad(', max: 1 },
      ],
      1000,
      1010,
    );
    expect(seen[0]).toEqual({
      query:
        'sum by (destination_version, response_code) (increase(istio_requests_total{reporter="destination",destination_service_namespace="demo",destination_service_name="reviews",destination_version=~"v1|v2"}[10s]))',
      time: '1010',
    });
    expect(s.edges).toEqual([5, 10]);
    expect(s.baseline).toEqual({ requests: 80, failures: 0, latency: [0, 70, 1, 10] });
    expect(s.candidate).toEqual({ requests: 20, failures: 6, latency: [1, 15, 2, 5] });
    expect(seen.some((q) => q.query === 'sum(rate(x{app="reviews",version="v2"}[10s]))')).toBe(true);
    expect(s.prometheus).toEqual([{ value: null }, { value: 0.25 }, { value: null, error: 'Prometheus refused the query: parse error' }]);
  });
});
