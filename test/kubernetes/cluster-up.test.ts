import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deployment } from '../../src/kubernetes/index.js';
import { ensureBuilt, repoRoot as root } from '../support/dist.js';
import { ADMIN_TOKEN, canaryCli as canary, cliEnv, FakeCluster, reviewsCanaryArgs, V2_IMAGE } from '../support/fake-cluster.js';
import { waitForValue } from '../support/wait-for.js';

/**
 * `canary up --kubernetes --kubeconfig FILE --context C --prometheus URL` as a user runs it: a child process
 * against the fake API server (reached through a kubeconfig with a token) and a fake Prometheus, driven with
 * the CLI: the release creates reviews-v2 and the VirtualService, the observed shares come from Prometheus,
 * SIGTERM stops the control plane and leaves the cluster as it is.
 */

const bin = join(root, 'bin', 'canary.js');

describe('canary up --kubernetes', () => {
  let cluster: FakeCluster;
  let prometheus: Server;
  let child: ChildProcess | null = null;
  let output = '';

  beforeAll(async () => {
    ensureBuilt();
    cluster = await FakeCluster.start();
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
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await cluster?.close();
    await new Promise((r) => prometheus?.close(r));
  });

  it('refuses cluster flags without --kubernetes, and local-only flags with it', async () => {
    let r = await canary(['up', '--context', 'kind-canary', '--data', join(cluster.dir, 'unused')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--context: only with --kubernetes');
    r = await canary(['up', '--kubernetes', '--demo', 'bookinfo', '--data', join(cluster.dir, 'unused')]);
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
        cluster.kubeconfig,
        '--context',
        FakeCluster.context,
        '--namespace',
        'demo',
        '--prometheus',
        promUrl,
        '--data',
        cluster.dataDir,
        '--port',
        '0',
      ],
      { env: { ...cliEnv(), CANARY_ADMIN_TOKEN: ADMIN_TOKEN }, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    // The address and the cluster's summary are two log lines (two writes): wait for the second.
    const url = await waitForValue(
      'the control plane to listen and name its cluster',
      () => (output.includes('cluster: namespace') ? /control plane and console: (\S+)/.exec(output)?.[1] : undefined),
      (u) => u !== undefined,
    );
    expect(output).toContain('cluster: namespace demo on');
    expect(output).toContain('1 services (reviews)');
    expect(cluster.api.requests.every((r) => r.authorization === `Bearer ${FakeCluster.userToken}`)).toBe(true);
    const server = ['--server', url!];

    let r = await canary([...reviewsCanaryArgs, ...server]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((cluster.api.object('Deployment', 'demo', 'reviews-v2') as Deployment).spec.template.spec.containers[0]!.image).toBe(V2_IMAGE);
    await waitForValue(
      'the VirtualService at 50/50',
      () => JSON.stringify((cluster.api.object('VirtualService', 'demo', 'reviews')?.spec as { http?: unknown })?.http ?? null),
      (h) => h.includes('"weight":50'),
    );
    r = await canary(['release', 'get', 'reviews-canary', '-o', 'json', ...server]);
    expect(JSON.parse(r.stdout).status).toMatchObject({ phase: 'Progressing', observed: { v1: 0.3, v2: 0.7 } });

    const exited = new Promise<number | null>((done) => child!.once('exit', (code) => done(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // The cluster keeps what it runs.
    expect(cluster.api.object('Deployment', 'demo', 'reviews-v2')).toBeDefined();
    expect(cluster.api.object('VirtualService', 'demo', 'reviews')).toBeDefined();
  });
});
