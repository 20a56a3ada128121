import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Deployment } from '../../src/kubernetes/index.js';
import { reviewsService, reviewsV1Deployment } from '../../src/kubernetes/testing/bookinfo-objects.js';
import { FakeApiServer } from '../../src/kubernetes/testing/fake-api-server.js';
import { ensureBuilt } from '../../test/support/dist.js';

/**
 * `canary up --kubernetes --kubeconfig FILE --context C --prometheus URL` as a user runs it: a child process
 * against the fake API server (reached through a kubeconfig with a token) and a fake Prometheus, driven with
 * the CLI: the release creates reviews-v2 and the VirtualService, the observed shares come from Prometheus,
 * SIGTERM stops the control plane and leaves the cluster as it is.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'canary.js');
const token = 'cluster-up-token-0123456789';
const V2_IMAGE = 'kubesphere/examples-bookinfo-reviews-v2:1.16.2';

const env = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', CANARY_TOKEN: token });

function canary(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [bin, ...args], { env: env(), cwd: root, timeout: 30_000 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

async function eventually<T>(read: () => T | Promise<T>, ok: (v: T) => boolean, what: string, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('canary up --kubernetes', () => {
  let api: FakeApiServer;
  let prometheus: Server;
  let dir: string;
  let child: ChildProcess | null = null;
  let output = '';

  beforeAll(async () => {
    ensureBuilt();
    api = new FakeApiServer({ controllerDelayMs: 5 });
    await api.start();
    api.seed(reviewsService('demo'));
    api.seed(reviewsV1Deployment('demo'));
    // Prometheus answering every query with reviews at 30/70, as Istio's metrics would after some traffic.
    prometheus = createServer((_req, res) => {
      const result = [
        { metric: { destination_version: 'v1' }, value: [1_700_000_000, '30'] },
        { metric: { destination_version: 'v2' }, value: [1_700_000_000, '70'] },
      ];
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
    });
    await new Promise<void>((r) => prometheus.listen(0, '127.0.0.1', r));
    dir = mkdtempSync(join(tmpdir(), 'canary-cluster-up-'));
    writeFileSync(
      join(dir, 'kubeconfig'),
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'kind-canary', cluster: { server: api.url } }],
        users: [{ name: 'dev', user: { token: 'dev-token' } }],
        contexts: [{ name: 'kind-canary', context: { cluster: 'kind-canary', user: 'dev', namespace: 'default' } }],
        'current-context': 'kind-canary',
      }),
    );
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await api?.close();
    await new Promise((r) => prometheus?.close(r));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses cluster flags without --kubernetes, and local-only flags with it', async () => {
    let r = await canary(['up', '--context', 'kind-canary', '--data', join(dir, 'unused')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--context: only with --kubernetes');
    r = await canary(['up', '--kubernetes', '--demo', 'bookinfo', '--data', join(dir, 'unused')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--demo: not with --kubernetes');
  });

  it('serves the API against the cluster, applies a release, reads observed shares from Prometheus, and stops on SIGTERM', async () => {
    const promUrl = `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`;
    child = spawn(
      process.execPath,
      [
        bin,
        'up',
        '--kubernetes',
        '--kubeconfig',
        join(dir, 'kubeconfig'),
        '--context',
        'kind-canary',
        '--namespace',
        'demo',
        '--prometheus',
        promUrl,
        '--data',
        join(dir, 'data'),
        '--port',
        '0',
      ],
      { env: { ...env(), CANARY_ADMIN_TOKEN: token }, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    const url = await eventually(
      () => /control plane and console: (\S+)/.exec(output)?.[1],
      (u) => u !== undefined,
      'the control plane to listen',
    );
    expect(output).toContain('cluster: namespace demo on');
    expect(output).toContain('1 services (reviews)');
    expect(api.requests.every((r) => r.authorization === 'Bearer dev-token')).toBe(true);
    const server = ['--server', url!];

    let r = await canary([
      'release',
      'create',
      'reviews-canary',
      '--service',
      'reviews',
      '--candidate',
      'v2',
      '--image',
      V2_IMAGE,
      '--weights',
      'v1=50,v2=50',
      ...server,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((api.object('Deployment', 'demo', 'reviews-v2') as Deployment).spec.template.spec.containers[0]!.image).toBe(V2_IMAGE);
    await eventually(
      () => JSON.stringify((api.object('VirtualService', 'demo', 'reviews')?.spec as { http?: unknown })?.http ?? null),
      (h) => h.includes('"weight":50'),
      'the VirtualService at 50/50',
    );
    r = await canary(['release', 'get', 'reviews-canary', '-o', 'json', ...server]);
    expect(JSON.parse(r.stdout).status).toMatchObject({ phase: 'Progressing', observed: { v1: 0.3, v2: 0.7 } });

    const exited = new Promise<number | null>((done) => child!.once('exit', (code) => done(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // The cluster keeps what it runs.
    expect(api.object('Deployment', 'demo', 'reviews-v2')).toBeDefined();
    expect(api.object('VirtualService', 'demo', 'reviews')).toBeDefined();
  });
});
