import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningCluster } from '../../src/control-plane/cluster-mode.js';
import { ensureBuilt } from '../support/dist.js';
import { canaryCli as canary, FakeCluster, reviewsCanaryArgs, V2_IMAGE } from '../support/fake-cluster.js';

/**
 * The release commands' `--dry-run` as a user runs them (`node bin/canary.js ...`) against a control plane in
 * cluster mode on the fake API server: the plan of cluster objects is printed and nothing changes, neither in
 * the cluster nor in the store.
 */

describe('canary release ... --dry-run against a cluster', () => {
  let cluster: FakeCluster;
  let up: RunningCluster;
  let server: string[];

  /** The store and the cluster, to show a dry run changed neither. */
  const everything = () => ({
    releases: up.controlPlane.store.listReleases(),
    services: up.controlPlane.store.listServices(),
    revision: up.controlPlane.store.revision(),
    writes: cluster.api.requests.filter((r) => r.method !== 'GET').length,
  });

  beforeAll(async () => {
    ensureBuilt();
    cluster = await FakeCluster.start();
    up = await cluster.startControlPlane();
    server = ['--server', up.url];
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('prints the plan of a create, then of a takeover and a finish, and changes nothing', async () => {
    let before = everything();
    let r = await canary([...reviewsCanaryArgs, '--dry-run', ...server]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('dry run: release/reviews-canary would be created: phase Pending');
    expect(r.stdout).toContain('create    Deployment demo/reviews-v2');
    expect(r.stdout).toContain('create    VirtualService demo/reviews');
    expect(r.stdout).toContain(`image: ${V2_IMAGE}`);
    expect(r.stdout.trim().endsWith('Nothing was changed.')).toBe(true);
    expect(everything()).toEqual(before);
    expect(cluster.api.object('Deployment', 'demo', 'reviews-v2')).toBeUndefined();

    // The real create, then the dry runs of what comes next.
    r = await canary([...reviewsCanaryArgs, ...server]);
    expect(r.code).toBe(0);
    expect(cluster.api.object('Deployment', 'demo', 'reviews-v2')).toBeDefined();
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
