import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCluster, startClusterControlPlane } from '../../src/control-plane/cluster-mode.js';
import { KubeClient, KubernetesBackend } from '../../src/kubernetes/index.js';
import { reviewsService, reviewsV1Deployment } from '../../src/kubernetes/testing/bookinfo-objects.js';
import { FakeApiServer } from '../../src/kubernetes/testing/fake-api-server.js';
import { ensureBuilt } from '../../test/support/dist.js';

/**
 * The release commands' `--dry-run` as a user runs them (`node bin/canary.js ...`) against a control plane in
 * cluster mode on the fake API server: the plan of cluster objects is printed and nothing changes, neither in
 * the cluster nor in the store.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'canary.js');
const token = 'cluster-cli-token-0123456789';
const V2_IMAGE = 'kubesphere/examples-bookinfo-reviews-v2:1.16.2';

function canary(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', CANARY_TOKEN: token };
  return new Promise((done) => {
    execFile(process.execPath, [bin, ...args], { env, cwd: root, timeout: 30_000 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describe('canary release ... --dry-run against a cluster', () => {
  let api: FakeApiServer;
  let up: RunningCluster;
  let dataDir: string;
  let server: string[];

  /** The store and the cluster, to show a dry run changed neither. */
  const everything = () => ({
    releases: up.controlPlane.store.listReleases(),
    services: up.controlPlane.store.listServices(),
    revision: up.controlPlane.store.revision(),
    writes: api.requests.filter((r) => r.method !== 'GET').length,
  });

  beforeAll(async () => {
    ensureBuilt();
    api = new FakeApiServer({ controllerDelayMs: 5 });
    await api.start();
    api.seed(reviewsService('demo'));
    api.seed(reviewsV1Deployment('demo'));
    const backend = await KubernetesBackend.connect({ client: new KubeClient({ server: api.url, namespace: 'demo' }), namespace: 'demo' });
    dataDir = mkdtempSync(join(tmpdir(), 'canary-cluster-cli-'));
    up = await startClusterControlPlane({
      backend,
      dataDir,
      host: '127.0.0.1',
      port: 0,
      adminToken: token,
      drainGraceMs: 50,
      logLevel: 'silent',
      log: () => {},
    });
    server = ['--server', up.url];
  });

  afterAll(async () => {
    await up?.stop();
    await api?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints the plan of a create, then of a takeover and a finish, and changes nothing', async () => {
    let before = everything();
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
      '--dry-run',
      ...server,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('dry run: release/reviews-canary would be created: phase Pending');
    expect(r.stdout).toContain('create    Deployment demo/reviews-v2');
    expect(r.stdout).toContain('create    VirtualService demo/reviews');
    expect(r.stdout).toContain(`image: ${V2_IMAGE}`);
    expect(r.stdout.trim().endsWith('Nothing was changed.')).toBe(true);
    expect(everything()).toEqual(before);
    expect(api.object('Deployment', 'demo', 'reviews-v2')).toBeUndefined();

    // The real create, then the dry runs of what comes next.
    r = await canary([
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
    expect(r.code).toBe(0);
    expect(api.object('Deployment', 'demo', 'reviews-v2')).toBeDefined();
    const until = Date.now() + 5000; // the fake rolls reviews-v2 out at once
    while (up.controlPlane.store.getRelease('reviews-canary')?.status.phase !== 'Progressing' && Date.now() < until)
      await new Promise((res) => setTimeout(res, 20));
    await up.settle();

    before = everything();
    r = await canary(['release', 'takeover', 'reviews-canary', 'v2', '--dry-run', ...server]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('would be taken over by v2: phase TakenOver, governor v2');
    expect(r.stdout).toContain('update    VirtualService demo/reviews (.spec.http)');
    expect(everything()).toEqual(before);

    r = await canary(['release', 'finish', 'reviews-canary', '--keep', 'v1', '--dry-run', ...server]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('would be finished: v1 kept, v2 retired');
    expect(r.stdout).toContain('delete    Deployment demo/reviews-v2');
    expect(everything()).toEqual(before);

    r = await canary(['release', 'finish', 'reviews-canary', '--keep', 'v1', '-o', 'json', '--dry-run', ...server]);
    expect(JSON.parse(r.stdout)).toMatchObject({ dryRun: true, finish: { kept: 'v1', retired: 'v2' } });
    expect(everything()).toEqual(before);
  });
});
