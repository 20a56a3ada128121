import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningUp, startUp } from '../control-plane/up.js';
import { bookinfoReviewsCanary } from '../../test/support/test-harness.js';
import { TrafficGenerator } from './traffic-generator.js';
import { ensureBuilt } from '../../test/support/dist.js';
import { waitFor } from '../../test/support/wait-for.js';

/**
 * Issue 4 end to end on `canary up --demo bookinfo` (real processes: control plane here, the proxy and the
 * Bookinfo services as children): one product page request is one trace across every hop; a 50/50 canary shows
 * as two edges of about half each; a 10% fault rate shows in success rates and /metrics; a real Prometheus
 * scrapes /metrics and answers the canonical Istio query per version.
 */
const dir = mkdtempSync(join(tmpdir(), 'canary-telemetry-e2e-'));
const token = 'telemetry-e2e-token-0123456789';
let up: RunningUp;
let prometheus: ChildProcess | null = null;

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

// biome-ignore lint/suspicious/noExplicitAny: tests assert response bodies field by field
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${up.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

/** Loads the product page; returns how many requests were answered OK (each called details and reviews). */
async function load(rate: number, ms: number): Promise<number> {
  const g = new TrafficGenerator({ url: `${up.ingressUrl}/productpage?u=normal`, rate, durationMs: ms });
  g.start();
  await g.finished();
  return g.stats().ok;
}

/** Calls from the product page to `service` so far, as the control plane's /metrics counts them (a counter). */
async function callsFromProductPage(service: string): Promise<number> {
  const text = await fetch(`${up.url}/metrics`).then((r) => r.text());
  return text
    .split('\n')
    .filter(
      (l) =>
        l.startsWith('istio_requests_total{') &&
        l.includes('reporter="destination"') &&
        l.includes('source_workload="productpage-v1"') &&
        l.includes(`destination_workload="${service}-`),
    )
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

/**
 * Runs a load and returns the topology once every call it made from the product page to `service` has reached the
 * control plane (the proxies' last batches have landed; the product page calls details and reviews once a request).
 */
async function loadAndTopology(service: string, rate: number, ms: number, windowSeconds: number) {
  const before = await callsFromProductPage(service);
  const answered = await load(rate, ms);
  await waitFor(
    `the load's ${answered} calls to ${service} counted`,
    async () => (await callsFromProductPage(service)) >= before + answered,
  );
  return (await api('GET', `/api/v1/topology?window=${windowSeconds}`)).body;
}

beforeAll(async () => {
  // startUp spawns dist/ (the proxy through bin/canary.js, the demo services).
  ensureBuilt();
  process.env.CANARY_ADMIN_TOKEN = token;
  up = await startUp({
    dataDir: join(dir, 'data'),
    host: '127.0.0.1',
    port: 0,
    ingressPort: await freePort(),
    demo: 'bookinfo',
    log: () => {},
  });
  await waitFor('the product page', async () => ((await fetch(`${up.ingressUrl}/productpage`)).status === 200 ? true : undefined), 60_000);
  const created = await api('POST', '/api/v1/releases', bookinfoReviewsCanary);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  await waitFor(
    'reviews v2 serving',
    async () => {
      const page = await (await fetch(`${up.ingressUrl}/productpage?u=normal`)).text();
      return page.includes('reviews-v2') ? true : undefined;
    },
    60_000,
    100,
  );
}, 120_000);

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (prometheus.exitCode === null) prometheus.kill('SIGKILL');
  }
  await up?.stop();
  delete process.env.CANARY_ADMIN_TOKEN;
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('tracing through the mesh', () => {
  it('one product page request is one trace: ingress -> productpage -> details, reviews -> ratings, with instance and pid', async () => {
    // Weighted 50/50 alternates: of two traced requests one reaches reviews v2, which calls ratings.
    let traceId = '';
    for (let i = 0; i < 4 && traceId === ''; i++) {
      const id = `${'0'.repeat(24)}${(0xabc00000 + i).toString(16)}`;
      const page = await (
        await fetch(`${up.ingressUrl}/productpage?u=normal`, { headers: { traceparent: `00-${id}-00f067aa0ba902b7-01` } })
      ).text();
      if (page.includes('reviews-v2')) traceId = id;
    }
    expect(traceId).not.toBe('');
    const trace = await waitFor('the trace', async () => {
      const r = await api('GET', `/api/v1/traces/${traceId}`);
      return r.status === 200 && r.body.spans.length >= 8 ? r.body : undefined;
    });
    type Span = {
      spanId: string;
      parentSpanId: string | null;
      kind: string;
      service: string;
      peerService: string;
      instance: string;
      pid: number;
      host: string;
      version: string;
    };
    const spans: Span[] = trace.spans;
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const hop = (from: string, to: string) => {
      const client = spans.find((s) => s.kind === 'client' && s.service === from && s.peerService === to);
      expect(client, `client span ${from} -> ${to}`).toBeDefined();
      const server = spans.find((s) => s.kind === 'server' && s.parentSpanId === client!.spanId);
      expect(server, `server span of ${to} under ${from}'s call`).toMatchObject({ service: to });
      return { client: client!, server: server! };
    };
    const ingress = hop('ingress', 'productpage');
    expect(ingress.client.parentSpanId).toBe('00f067aa0ba902b7');
    const details = hop('productpage', 'details');
    const reviews = hop('productpage', 'reviews');
    const ratings = hop('reviews', 'ratings');
    // Parenting: each call out of a service hangs under that service's server span.
    expect(byId.get(details.client.parentSpanId!)).toBe(ingress.server);
    expect(byId.get(reviews.client.parentSpanId!)).toBe(ingress.server);
    expect(byId.get(ratings.client.parentSpanId!)).toBe(reviews.server);
    expect(reviews.server).toMatchObject({ version: 'v2', instance: 'reviews-v2-1' });
    expect(ratings.client).toMatchObject({ instance: 'reviews-v2-1' });
    for (const s of spans) {
      expect(s.pid).toBeGreaterThan(0);
      expect(s.host).not.toBe('');
      expect(s.instance).not.toBe('');
    }
    // Each server span names the process that served the hop: the pid the services API reports for that instance,
    // not the proxy's (which the ingress's client span carries).
    const pidOf = async (service: string, version: string, instance: string): Promise<number> => {
      const svc = (await api('GET', `/api/v1/services/${service}`)).body;
      const v = svc.status.versions.find((x: { name: string }) => x.name === version);
      return v.instances.find((i: { name: string }) => i.name === instance).pid;
    };
    const reviewsV2Pid = await pidOf('reviews', 'v2', 'reviews-v2-1');
    expect(reviewsV2Pid).toBeGreaterThan(0);
    expect(reviews.server.pid).toBe(reviewsV2Pid);
    for (const { server } of [ingress, details, reviews, ratings]) {
      expect(server.pid, `${server.instance}'s pid`).toBe(await pidOf(server.service, server.version, server.instance));
      expect(server.pid).not.toBe(ingress.client.pid);
    }
    for (const { client } of [details, reviews, ratings]) {
      expect(client.pid, `${client.instance}'s pid (client)`).toBe(await pidOf(client.service, client.version, client.instance));
    }
    const list = await api('GET', '/api/v1/traces?service=ratings&limit=100');
    expect(list.body.traces.find((t: { traceId: string }) => t.traceId === traceId)).toMatchObject({
      rootService: 'ingress',
      spanCount: spans.length,
      errors: 0,
    });
  });
});

describe('topology and metrics under load', () => {
  it('a 50/50 canary shows edges to reviews v1 and v2 with about half each, and the release observes it', async () => {
    const t = await loadAndTopology('reviews', 20, 5000, 60);
    const edge = (id: string) => t.edges.find((e: { id: string }) => e.id === id);
    const v1 = edge('productpage:v1>reviews:v1');
    const v2 = edge('productpage:v1>reviews:v2');
    expect(v1.requests + v2.requests).toBeGreaterThanOrEqual(100);
    expect(v1.share).toBeGreaterThan(0.4);
    expect(v2.share).toBeGreaterThan(0.4);
    expect(edge('reviews:v2>ratings:v1').requests).toBeGreaterThan(40);
    expect(edge('reviews:v1>ratings:v1')).toBeUndefined();
    expect(edge('ingress>productpage:v1').successRate).toBe(1);
    expect(edge('ingress>productpage:v1').latencyMs.p95).toBeGreaterThan(0);
    const release = (await api('GET', '/api/v1/releases/reviews-canary')).body;
    expect(release.status.observed.v1).toBeGreaterThan(0.4);
    expect(release.status.observed.v2).toBeGreaterThan(0.4);
    expect(t.releases).toEqual([expect.objectContaining({ name: 'reviews-canary', service: 'reviews' })]);
  });

  it('the live watch streams topology events', async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${up.url}/api/v1/watch?window=30`, { headers: { authorization: `Bearer ${token}` }, signal: ctrl.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    const started = Date.now();
    while ((text.match(/event: topology/g) ?? []).length < 2 && Date.now() - started < 6000) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value!).toString('utf8');
    }
    ctrl.abort();
    expect((text.match(/event: topology/g) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeLessThan(4500);
    const first = /data: (.*)\n/.exec(text)![1]!;
    expect(JSON.parse(first).nodes.length).toBeGreaterThan(3);
  });

  it('a 10% fault rate shows in the success rate and in /metrics', async () => {
    const created = await api('POST', '/api/v1/releases', {
      name: 'details-faults',
      service: 'details',
      strategy: 'canary',
      baseline: 'v1',
      candidate: { name: 'v2', workload: { env: { FAULT_RATE: '0.1' } } },
      traffic: { weights: { v1: 0, v2: 100 } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    await waitFor(
      'details v2 serving',
      async () => {
        const r = await api('GET', '/api/v1/releases/details-faults');
        return r.body.status.phase === 'Progressing' ? true : undefined;
      },
      60_000,
    );
    const t = await loadAndTopology('details', 25, 8000, 12);
    const faulty = t.edges.find((e: { id: string }) => e.id === 'productpage:v1>details:v2');
    expect(faulty, JSON.stringify(t.edges.map((e: { id: string; requests: number }) => [e.id, e.requests]))).toBeDefined();
    expect(faulty.requests).toBeGreaterThan(120);
    expect(faulty.successRate).toBeGreaterThan(0.8);
    expect(faulty.successRate).toBeLessThan(0.97);
    expect(faulty.responses['5xx']).toBeGreaterThan(3);
    expect(t.nodes.find((n: { id: string }) => n.id === 'details:v2').successRate).toBeLessThan(0.97);
    const metrics = (await fetch(`${up.url}/metrics`).then((r) => r.text())).split('\n');
    const count = (code: string) =>
      Number(
        metrics
          .find(
            (l) =>
              l.startsWith('istio_requests_total{') &&
              l.includes('destination_workload="details-v2"') &&
              l.includes(`response_code="${code}"`),
          )
          ?.split(' ')
          .at(-1) ?? 0,
      );
    expect(count('500')).toBeGreaterThan(3);
    expect(count('500') / (count('500') + count('200'))).toBeGreaterThan(0.03);
    expect(count('500') / (count('500') + count('200'))).toBeLessThan(0.2);
  });
});

describe('demo traffic switch', () => {
  it('POST /api/v1/demo/traffic runs a steady load on the product page until switched off', async () => {
    const on = await api('POST', '/api/v1/demo/traffic', { enabled: true, rate: 10 });
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ enabled: true, rate: 10, url: `${up.ingressUrl}/productpage` });
    const state = await waitFor('8 answers to the demo traffic', async () => {
      const body = (await api('GET', '/api/v1/demo/traffic')).body;
      return body.stats.completed >= 8 ? body : undefined;
    });
    expect(state.stats.successRate).toBeGreaterThan(0.8);
    const off = await api('POST', '/api/v1/demo/traffic', { enabled: false });
    expect(off.body.enabled).toBe(false);
  });
});

describe('Prometheus', () => {
  it('a real Prometheus scraping /metrics answers the per-version Istio query during the 50/50 canary', async () => {
    const bin = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((p) => existsSync(p));
    if (!bin) throw new Error('prometheus is not installed: apt-get install prometheus (Debian package)');
    const port = await freePort();
    const target = new URL(up.url).host;
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: canary\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['${target}']\n`,
    );
    let output = '';
    prometheus = spawn(
      bin,
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (c) => (output += c));
    prometheus.stderr!.on('data', (c) => (output += c));
    const generator = new TrafficGenerator({ url: `${up.ingressUrl}/productpage?u=normal`, rate: 10 });
    generator.start();
    try {
      const query = 'sum by (destination_version) (rate(istio_requests_total{destination_service=~"reviews.*"}[1m]))';
      const result = await waitFor(
        'Prometheus to answer with v1 and v2',
        async () => {
          const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`);
          const body = (await r.json()) as { data: { result: { metric: { destination_version: string }; value: [number, string] }[] } };
          const versions = body.data.result.filter((x) => Number(x.value[1]) > 0).map((x) => x.metric.destination_version);
          return versions.includes('v1') && versions.includes('v2') ? body.data.result : undefined;
        },
        40_000,
        500,
      ).catch((err) => {
        throw new Error(`${(err as Error).message}\nprometheus (exit ${prometheus?.exitCode}) said:\n${output.slice(-2000)}`);
      });
      const rate = (v: string) => Number(result.find((x) => x.metric.destination_version === v)!.value[1]);
      expect(rate('v1') / (rate('v1') + rate('v2'))).toBeGreaterThan(0.3);
      expect(rate('v1') / (rate('v1') + rate('v2'))).toBeLessThan(0.7);
    } finally {
      await generator.stop();
    }
  }, 60_000);
});
