import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/ports.js';
import { type AnalysisCheck, judgeInterval, newJudgeState } from '../core/analysis/index.js';
import type { Release } from '../core/index.js';
import { PrometheusAnalysisMetrics } from './analysis-metrics.js';

/**
 * Cluster mode's reads against a real Prometheus (the installed binary, scraping every second) that scrapes a
 * loopback exporter serving Istio-named counters, which the test increments by known amounts: the per-version counts
 * come back through `increase()` over the interval, and `prometheus` checks' PromQL is answered and judged.
 */

const release = { name: 'rc', service: 'reviews', baseline: 'v1', candidate: { name: 'v2' } } as unknown as Release;

/** What the exporter serves: istio_requests_total by version and code, and a latency histogram by version. */
const totals = new Map<string, number>([
  ['v1|200', 0],
  ['v2|200', 0],
  ['v2|503', 0],
]);
const buckets = new Map<string, number[]>([
  // cumulative counts at le 5, 10, +Inf
  ['v1', [0, 0, 0]],
  ['v2', [0, 0, 0]],
]);

function exposition(): string {
  const labels = (version: string) =>
    `reporter="destination",destination_service_namespace="demo",destination_service_name="reviews",destination_version="${version}"`;
  const lines = ['# TYPE istio_requests_total counter'];
  for (const [key, n] of totals) {
    const [version, code] = key.split('|');
    lines.push(`istio_requests_total{${labels(version!)},response_code="${code}"} ${n}`);
  }
  // A series for another service must not be counted.
  lines.push(`istio_requests_total{${labels('v2').replace('"reviews"', '"ratings"')},response_code="503"} ${totals.get('v2|503')! * 7}`);
  lines.push('# TYPE istio_request_duration_milliseconds histogram');
  for (const [version, [le5, le10, inf]] of buckets) {
    lines.push(`istio_request_duration_milliseconds_bucket{${labels(version)},le="5"} ${le5}`);
    lines.push(`istio_request_duration_milliseconds_bucket{${labels(version)},le="10"} ${le10}`);
    lines.push(`istio_request_duration_milliseconds_bucket{${labels(version)},le="+Inf"} ${inf}`);
    lines.push(`istio_request_duration_milliseconds_count{${labels(version)}} ${inf}`);
  }
  return `${lines.join('\n')}\n`;
}

let exporter: Server;
let prometheus: ChildProcess | null = null;
let output = '';
let promUrl = '';
let dir = '';

async function until<T>(what: string, f: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}\nprometheus (exit ${prometheus?.exitCode}) said:\n${output.slice(-2000)}`);
}

beforeAll(async () => {
  const bin = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((p) => existsSync(p));
  if (!bin) throw new Error('prometheus is not installed: apt-get install prometheus (Debian package)');
  exporter = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(exposition());
  });
  await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));
  dir = mkdtempSync(join(tmpdir(), 'analysis-prom-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: istio\n    static_configs:\n      - targets: ['127.0.0.1:${(exporter.address() as AddressInfo).port}']\n`,
  );
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn(
    bin,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stdout!.on('data', (c) => (output += c));
  prometheus.stderr!.on('data', (c) => (output += c));
  // Ready once it has scraped the exporter a few times.
  await until(
    'Prometheus to scrape the exporter',
    async () => {
      const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent('count_over_time(up{job="istio"}[1m])')}`);
      const body = (await r.json()) as { data: { result: { value: [number, string] }[] } };
      return Number(body.data.result[0]?.value[1] ?? 0) >= 3 ? true : undefined;
    },
    40_000,
  );
}, 60_000);

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (prometheus.exitCode === null) prometheus.kill('SIGKILL');
  }
  await new Promise((r) => exporter?.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const nowSecond = () => Math.floor(Date.now() / 1000);

describe('PrometheusAnalysisMetrics against a real Prometheus', () => {
  it('reads both versions over the interval with increase(), and judges prometheus checks that pass and fail', async () => {
    // Flat counters first, so the interval starts on scraped samples; then known increments; then flat again.
    const from = nowSecond();
    await new Promise((r) => setTimeout(r, 2000));
    for (let i = 0; i < 40; i++) {
      totals.set('v1|200', totals.get('v1|200')! + 10); // v1: 400 requests, all under 5 ms
      totals.set('v2|200', totals.get('v2|200')! + 7); // v2: 400 requests, 30 % answered 503, all between 5 and 10 ms
      totals.set('v2|503', totals.get('v2|503')! + 3);
      buckets.set(
        'v1',
        buckets.get('v1')!.map((n) => n + 10),
      );
      const [a, b, c] = buckets.get('v2')!;
      buckets.set('v2', [a!, b! + 10, c! + 10]);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 2500));
    const to = nowSecond();
    // Let Prometheus scrape past `to` before asking about it.
    await new Promise((r) => setTimeout(r, 1500));

    const checks: AnalysisCheck[] = [
      { metric: 'successRate', min: 90 },
      {
        metric: 'prometheus',
        name: 'candidate-errors',
        query:
          'sum(increase(istio_requests_total{destination_service_name="{{service}}",destination_version="{{candidate}}",response_code=~"5.."}[{{interval}}]))' +
          ' / sum(increase(istio_requests_total{destination_service_name="{{service}}",destination_version="{{candidate}}"}[{{interval}}]))',
        max: 0.5,
      },
      {
        metric: 'prometheus',
        name: 'candidate-errors-strict',
        query:
          'sum(increase(istio_requests_total{destination_service_name="{{service}}",destination_version="{{candidate}}",response_code=~"5.."}[{{interval}}]))' +
          ' / sum(increase(istio_requests_total{destination_service_name="{{service}}",destination_version="{{candidate}}"}[{{interval}}]))',
        max: 0.1,
      },
    ] as AnalysisCheck[];
    const m = new PrometheusAnalysisMetrics({ url: promUrl, namespace: 'demo' });
    const s = await m.sample(release, checks, from, to);

    // increase() extrapolates to the window's edges (up to one scrape interval): within 20 % of what was sent.
    const near = (got: number, sent: number) => {
      expect(got, `got ${got}, sent ${sent}`).toBeGreaterThanOrEqual(sent * 0.8);
      expect(got, `got ${got}, sent ${sent}`).toBeLessThanOrEqual(sent * 1.2);
    };
    near(s.baseline.requests, 400);
    expect(s.baseline.failures).toBe(0);
    near(s.candidate.requests, 400);
    near(s.candidate.failures, 120);
    // The ratings series (7x the failures) is not counted: the candidate's failure share stays about 30 %.
    expect(s.candidate.failures / s.candidate.requests).toBeGreaterThan(0.25);
    expect(s.candidate.failures / s.candidate.requests).toBeLessThan(0.35);
    // Latency: the baseline all in the first bin (<= 5 ms), the candidate all in the second (5..10 ms).
    expect(s.edges).toEqual([5, 10]);
    expect(s.baseline.latency[0]).toBe(0);
    expect(s.baseline.latency).toHaveLength(2);
    expect(s.candidate.latency[0]).toBe(1);
    expect(s.candidate.latency).toHaveLength(2);

    expect(s.prometheus![0]).toEqual({ value: null });
    expect(s.prometheus![1]!.value).toBeCloseTo(0.3, 2);
    expect(s.prometheus![2]!.value).toBeCloseTo(0.3, 2);

    const result = judgeInterval(newJudgeState(), s, {
      checks,
      alpha: 0.005,
      minRequests: 50,
      baselineName: 'v1',
      candidateName: 'v2',
      candidateWeight: 50,
    });
    const query = result.checks.filter((c) => c.metric === 'prometheus');
    expect(query.map((c) => [c.verdict, c.bound])).toEqual([
      ['passing', 0.5],
      ['failing', 0.1],
    ]);
    expect(query[0]!.message).toMatch(/^candidate-errors: value 0\.3\d* within -inf\.\.0\.5$/);
    expect(query[1]!.message).toMatch(/^candidate-errors-strict: value 0\.3\d* is above max 0\.1$/);
    expect(result.verdict).toBe('failing');
    // A wrong query is reported, not taken for a value.
    const bad = await m.sample(release, [{ metric: 'prometheus', query: 'sum(', max: 1 }] as AnalysisCheck[], from, to);
    expect(bad.prometheus![0]!.value).toBeNull();
    expect(bad.prometheus![0]!.error).toMatch(/^Prometheus refused the query: .*parse error/);
  }, 60_000);
});
