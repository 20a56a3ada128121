import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControlPlane, type TestControlPlane } from '../../../test/support/test-harness.js';
import { durationSlot } from '../../telemetry-wire/histogram-layout.js';
import { runCanary } from '../../../test/support/cli-runner.js';
import { ensureBuilt } from '../../../test/support/dist.js';

/** `canary top | traces | trace | load` as a user runs them (node bin/canary.js) against a real control plane. */
let cp: TestControlPlane;
let url: string;
let site: Server;
let sitePort: number;
const dir = mkdtempSync(join(tmpdir(), 'canary-cli-telemetry-'));

const canary = (args: string[]) => runCanary(args, { home: dir });

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const span = (
  spanId: string,
  parent: string | null,
  kind: 'client' | 'server',
  service: string,
  peer: string,
  start: number,
  ms: number,
) => ({
  traceId,
  spanId,
  parentSpanId: parent,
  kind,
  name: `GET /${peer}`,
  service,
  version: service === 'ingress' ? '' : 'v1',
  instance: service === 'ingress' ? 'ingress@h:1' : `${service}-v1-1`,
  startTime: start,
  durationMs: ms,
  statusCode: 200,
  error: false,
  host: 'host-a',
  pid: 4242,
  peerAddress: '127.0.0.1:9',
  method: 'GET',
  path: `/${peer}`,
  peerService: peer,
  responseFlags: '-',
  retried: false,
  mirrored: false,
});

beforeAll(async () => {
  ensureBuilt();
  cp = await startTestControlPlane({ root: dir });
  url = await cp.cp.app.listen({ host: '127.0.0.1', port: 0 });
  const now = Date.now() - 3000;
  const slots = [durationSlot(12), 10];
  const r = await cp.call('POST', '/api/v1/telemetry', {
    proxy: { id: 'p', host: 'host-a', pid: 4242 },
    start: now,
    end: now + 1000,
    edges: [
      {
        source: { service: 'productpage', version: 'v1', instance: 'productpage-v1-1' },
        destination: { service: 'reviews', version: 'v2', instance: 'reviews-v2-1' },
        code: 200,
        flags: 0,
        count: 10,
        durationSumMs: 120,
        durationSlots: slots,
        bytesInSum: 0,
        bytesInBuckets: [10, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        bytesOutSum: 100,
        bytesOutBuckets: [0, 0, 10, 0, 0, 0, 0, 0, 0, 0],
      },
    ],
    spans: [
      span('1111111111111111', null, 'client', 'ingress', 'productpage', now, 20),
      span('2222222222222222', '1111111111111111', 'server', 'productpage', 'productpage', now + 0.1, 19.8),
      span('3333333333333333', '2222222222222222', 'client', 'productpage', 'reviews', now + 5, 10),
      span('4444444444444444', '3333333333333333', 'server', 'reviews', 'reviews', now + 5.1, 9.8),
    ],
  });
  expect(r.status).toBe(200);
  site = createServer((req, res) => {
    if (req.url === '/fail') res.statusCode = 500;
    res.end(req.url === '/fail' ? 'no' : 'ok');
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', () => r()));
  sitePort = (site.address() as AddressInfo).port;
  await new Promise((r) => setTimeout(r, 1100 - (Date.now() % 1000)));
});

afterAll(async () => {
  await new Promise<void>((r) => site?.close(() => r()));
  await cp?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('telemetry commands', () => {
  const auth = () => ['--server', url, '--token', cp.token];

  it('canary traces lists traces; canary trace draws the waterfall in tree order', async () => {
    const list = await canary(['traces', ...auth()]);
    expect(list.stderr).toBe('');
    expect(list.stdout).toMatch(/TRACE ID\s+ROOT\s+OPERATION/);
    expect(list.stdout).toContain(`${traceId}   ingress   GET /productpage`);
    const one = await canary(['trace', traceId, ...auth()]);
    expect(one.code).toBe(0);
    const lines = one.stdout.split('\n');
    expect(lines[0]).toMatch(/^Trace 4bf92f3577b34da6a3ce929d0e0e4736: 4 spans, 3 services, 20\.0ms/);
    const rows = lines.filter((l) => l.includes('|'));
    expect(rows.map((l) => l.slice(0, l.indexOf(' GET')).trimEnd())).toEqual([
      'ingress client',
      '  productpage v1 server',
      '    productpage v1 client',
      '      reviews v1 server',
    ]);
    expect(rows[3]).toContain('reviews-v1-1 pid 4242@host-a');
    const missing = await canary(['trace', 'f'.repeat(32), ...auth()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not found');
  });

  it('canary top --once prints versions and calls with rate, success and latency', async () => {
    // A 60 s window: on a loaded machine the earlier tests can take more than 10 s after the batch arrived.
    const r = await canary(['top', '--once', '--window', '60', ...auth()]);
    expect(r.code).toBe(0);
    const row = /productpage v1 -> reviews v2\s+(\d+\.\d\d)\s+100\.0%\s+1\d\.\dms/.exec(r.stdout);
    expect(row, r.stdout).not.toBeNull();
    // 10 requests, divided by the seconds since they arrived (1..60 s of the 60 s window): 1/6 to 10 req/s.
    expect(Number(row![1])).toBeGreaterThanOrEqual(0.16);
    expect(Number(row![1])).toBeLessThanOrEqual(10);
    const json = await canary(['top', '--once', '-o', 'json', ...auth()]);
    expect(JSON.parse(json.stdout).edges[0]).toMatchObject({ source: 'productpage:v1', target: 'reviews:v2', requests: 10 });
  });

  it('canary load sends a steady rate and reports success and latency', async () => {
    const r = await canary(['load', `http://127.0.0.1:${sitePort}/`, '--rate', '20', '--duration', '1500ms']);
    expect(r.code).toBe(0);
    const done = /done: (\d+) requests .* success ([\d.]+)%/.exec(r.stdout);
    expect(done).not.toBeNull();
    expect(Number(done![1])).toBeGreaterThanOrEqual(25);
    expect(Number(done![1])).toBeLessThanOrEqual(32);
    expect(done![2]).toBe('100.0');
    const bad = await canary(['load', 'ftp://x', '--rate', '2']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('url: only http:// is supported');
  });
});
