import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeCluster, reviewsCanary as release, V2_IMAGE } from '../../test/support/fake-cluster.js';
import { type Deployment, type KubeObject, type KubeService, RESOURCES } from '../kubernetes/index.js';
import { reviewsService, reviewsV1Deployment } from '../../test/support/kubernetes/bookinfo-objects.js';
import type { FakeApiServer } from '../../test/support/kubernetes/fake-api-server.js';
import type { PlanStep } from './change-planner.js';
import type { RunningCluster } from './cluster-mode.js';
import { waitFor, waitForValue } from '../../test/support/wait-for.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Bookinfo's ratings v1 beside reviews: a service no release touches. */
function ratingsObjects(namespace: string): KubeObject[] {
  const svc: KubeService = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'ratings', namespace, labels: { app: 'ratings' } },
    spec: { selector: { app: 'ratings' }, ports: [{ name: 'http', port: 9080 }] },
  };
  const d = reviewsV1Deployment(namespace);
  d.metadata = { name: 'ratings-v1', namespace, labels: { app: 'ratings', version: 'v1' } };
  d.spec.selector.matchLabels = { app: 'ratings', version: 'v1' };
  d.spec.template.metadata = { labels: { app: 'ratings', version: 'v1' } };
  d.spec.template.spec.containers = [{ name: 'ratings', image: 'docker.io/istio/examples-bookinfo-ratings-v1:1.20.3' }];
  return [svc, d];
}

interface Setup {
  cluster: FakeCluster;
  api: FakeApiServer;
  /** The control plane started last (see `restart`). */
  up: RunningCluster;
  /** Lets the fake controller finish the rollout of reviews-v2 (held back until then). */
  completeV2Rollout(): void;
  call: FakeCluster['call'];
}

/** The fake cluster with reviews and ratings (and `seed`), and the control plane on it. */
async function start(opts: { adopt?: boolean; seed?: KubeObject[]; prometheus?: string; tracing?: string } = {}): Promise<Setup> {
  let v2RolledOut = false;
  const cluster = await FakeCluster.start({
    seed: [...ratingsObjects('demo'), ...(opts.seed ?? [])],
    // Pods of reviews-v2 are held back (no pods, no status) until the test lets the rollout complete.
    podBehaviour: (d) => (d.metadata.name === 'reviews-v2' && !v2RolledOut ? undefined : { ready: true }),
  });
  cleanups.push(() => cluster.close());
  const { api } = cluster;
  const { seed: _, ...flags } = opts;
  const up = await cluster.startControlPlane({ rolloutDeadlineMs: 60_000, ...flags });
  return {
    cluster,
    api,
    up,
    completeV2Rollout() {
      v2RolledOut = true;
      const d = api.object('Deployment', 'demo', 'reviews-v2') as Deployment;
      const n = d.spec.replicas ?? 1;
      api.setStatus('Deployment', 'demo', 'reviews-v2', {
        observedGeneration: d.metadata.generation,
        replicas: n,
        updatedReplicas: n,
        readyReplicas: n,
        availableReplicas: n,
      });
    },
    call: (method, path, body) => cluster.call(method, path, body),
  };
}

/** The VirtualService's routes as `v1:50 v2:50` (rules separated by `|`), or `none`. */
type VsHttp = { match?: { headers?: Record<string, unknown> }[]; route: { destination: { subset: string }; weight: number }[] };

function vsHttp(api: FakeApiServer): VsHttp[] {
  const vs = api.object('VirtualService', 'demo', 'reviews');
  return vs ? (vs.spec as { http: VsHttp[] }).http : [];
}

const isPreview = (h: VsHttp) => h.match?.some((m) => m.headers?.['x-canary-preview'] !== undefined) ?? false;

/** The ordinary routes' weights; the preview route (first while the candidate runs) is checked with `previewRoute`. */
function vsRoutes(api: FakeApiServer): string {
  if (!api.object('VirtualService', 'demo', 'reviews')) return 'none';
  return vsHttp(api)
    .filter((h) => !isPreview(h))
    .map((h) => h.route.map((r) => `${r.destination.subset}:${r.weight}`).join(' '))
    .join(' | ');
}

/** `x-canary-preview: v2 -> v2` when the first route is the preview route, else `none`. */
function previewRoute(api: FakeApiServer): string {
  const first = vsHttp(api)[0];
  if (!first || !isPreview(first)) return 'none';
  const header = first.match![0]!.headers!['x-canary-preview'] as { exact: string };
  return `x-canary-preview: ${header.exact} -> ${first.route.map((r) => `${r.destination.subset}:${r.weight}`).join(' ')}`;
}

function drSubsets(api: FakeApiServer): string[] {
  const dr = api.object('DestinationRule', 'demo', 'reviews');
  return ((dr?.spec as { subsets?: { name: string }[] } | undefined)?.subsets ?? []).map((s) => s.name);
}

/** Everything a dry run must leave alone: the store, and every object of the fake cluster. */
function everything(s: Setup) {
  const store = s.up.controlPlane.store;
  const kinds = ['Deployment', 'Service', 'VirtualService', 'DestinationRule'] as const;
  return {
    services: store.listServices(),
    releases: store.listReleases(),
    events: store.listEvents().length,
    revision: store.revision(),
    cluster: kinds.flatMap((k) => s.api.objectsOf(k, 'demo').map((o) => `${k}/${o.metadata.name}@${o.metadata.resourceVersion}`)).sort(),
    writes: s.api.requests.filter((r) => r.method !== 'GET').length,
  };
}

/** Stops the control plane of `s` and starts another on the same data directory and cluster. */
async function restart(s: Setup): Promise<Setup> {
  const up = await s.cluster.restartControlPlane();
  await up.settle();
  return { ...s, up };
}

/** Creates the release and lets reviews-v2 roll out: the release runs at 50/50. */
async function releaseAt5050(s: Setup): Promise<void> {
  expect((await s.call('POST', '/api/v1/releases', release)).status).toBe(201);
  s.completeV2Rollout();
  await waitForValue(
    'the VirtualService at 50/50',
    () => vsRoutes(s.api),
    (r) => r === 'v1:50 v2:50',
  );
}

/** A third version of reviews, a copy of reviews-v1 deployed beside it (as with kubectl). */
function reviewsV3Deployment(): Deployment {
  const v3 = reviewsV1Deployment('demo');
  v3.metadata.name = 'reviews-v3';
  v3.metadata.labels = { app: 'reviews', version: 'v3' };
  v3.spec.selector.matchLabels = { app: 'reviews', version: 'v3' };
  v3.spec.template.metadata = { labels: { app: 'reviews', version: 'v3' } };
  return v3;
}

/** The event log as `actor action`. */
async function eventsOf(s: Setup): Promise<string[]> {
  return (await s.call('GET', '/api/v1/events')).body.items.map((e: { actor: string; action: string }) => `${e.actor} ${e.action}`);
}

const versionNames = async (s: Setup, service = 'reviews'): Promise<string> =>
  (await s.call('GET', `/api/v1/services/${service}`)).body.versions?.map((v: { name: string }) => v.name).join() ?? 'none';

describe('canary up --kubernetes: the control plane against a cluster', () => {
  it('runs the seed scenario: canary v2 at 50/50, take over, roll back, resume, finish keeping v2; dry runs change nothing', async () => {
    const s = await start();
    const { api } = s;

    // Services and versions come from the cluster; starting writes nothing to it.
    let res = await s.call('GET', '/api/v1/services');
    expect(res.status).toBe(200);
    expect(
      res.body.items.map((x: { name: string; versions: { name: string }[] }) => [x.name, x.versions.map((v: { name: string }) => v.name)]),
    ).toEqual([
      ['ratings', ['v1']],
      ['reviews', ['v1']],
    ]);
    expect(api.requests.filter((r) => r.method !== 'GET')).toEqual([]);

    // Dry run of the create: the plan, and nothing written anywhere.
    let before = everything(s);
    res = await s.call('POST', '/api/v1/releases?dryRun=true', release);
    expect(res.status).toBe(200);
    expect(res.body.dryRun).toBe(true);
    expect(res.body.release).toMatchObject({ name: 'reviews-canary', baseline: 'v1', status: { phase: 'Pending' } });
    expect(res.body.plan.map((p: PlanStep) => `${p.action} ${p.kind} ${p.name}`)).toEqual([
      'create Deployment reviews-v2',
      'create DestinationRule reviews',
      'create VirtualService reviews',
    ]);
    expect(res.body.plan[0].object.spec.template.spec.containers[0].image).toBe(V2_IMAGE);
    expect(res.body.planText).toContain('create    Deployment demo/reviews-v2');
    expect(everything(s)).toEqual(before);

    // The release: reviews-v2 is created as a copy of reviews-v1 and stays Pending until rolled out.
    res = await s.call('POST', '/api/v1/releases', release);
    expect(res.status).toBe(201);
    expect(res.body.status.phase).toBe('Pending');
    const v2 = api.object('Deployment', 'demo', 'reviews-v2') as Deployment;
    expect(v2.spec.template.spec.containers[0]!.image).toBe(V2_IMAGE);
    expect(v2.spec.template.metadata?.labels).toMatchObject({ app: 'reviews', version: 'v2' });
    expect(v2.spec.template.spec.serviceAccountName).toBe('bookinfo-reviews');
    expect(drSubsets(api)).toEqual(['v1', 'v2']);
    expect(vsRoutes(api)).toBe('v1:100'); // no traffic moves before v2 is ready
    expect(previewRoute(api)).toBe('none'); // nor preview requests
    // Still Pending once the control plane has taken in everything the cluster said so far (v2's Deployment
    // without ready pods): not a clock, the point where a wrong transition would have happened.
    await waitFor('the informer to see reviews-v2', () =>
      s.up.backend.inventory().services.some((x) => x.name === 'reviews' && x.versions.length === 2),
    );
    await s.up.settle();
    expect((await s.call('GET', '/api/v1/releases/reviews-canary')).body.status.phase).toBe('Pending');
    expect(api.object('VirtualService', 'demo', 'ratings')).toBeUndefined();

    s.completeV2Rollout();
    await waitForValue(
      'the release to progress',
      async () => (await s.call('GET', '/api/v1/releases/reviews-canary')).body.status.phase,
      (p) => p === 'Progressing',
    );
    await waitForValue(
      'the VirtualService at 50/50',
      () => vsRoutes(api),
      (r) => r === 'v1:50 v2:50',
    );
    expect(previewRoute(api)).toBe('x-canary-preview: v2 -> v2:100');

    // Dry run of a takeover: the plan names the VirtualService's routes; nothing changes.
    before = everything(s);
    res = await s.call('POST', '/api/v1/releases/reviews-canary/takeover?dryRun=true', { version: 'v2' });
    expect(res.status).toBe(200);
    expect(res.body.release.status).toMatchObject({ phase: 'TakenOver', governor: 'v2' });
    expect(res.body.plan.map((p: PlanStep) => `${p.action} ${p.kind} ${p.changes.join(',')}`)).toEqual([
      'unchanged DestinationRule ',
      'update VirtualService .spec.http',
    ]);
    expect(everything(s)).toEqual(before);

    // Take over, roll back, resume: the VirtualService follows before each call returns.
    res = await s.call('POST', '/api/v1/releases/reviews-canary/takeover', { version: 'v2' });
    expect(res.status).toBe(200);
    expect(vsRoutes(api)).toBe('v2:100');
    res = await s.call('POST', '/api/v1/releases/reviews-canary/rollback');
    expect(res.body.status).toMatchObject({ phase: 'RolledBack', governor: 'v1' });
    expect(vsRoutes(api)).toBe('v1:100');
    res = await s.call('POST', '/api/v1/releases/reviews-canary/resume');
    expect(res.body.status).toMatchObject({ phase: 'Progressing', governor: null });
    expect(vsRoutes(api)).toBe('v1:50 v2:50');
    res = await s.call('PATCH', '/api/v1/releases/reviews-canary?dryRun=true', { traffic: { weights: { v1: 20, v2: 80 } } });
    expect(res.body.release.traffic.weights).toEqual({ v1: 20, v2: 80 });
    expect(vsRoutes(api)).toBe('v1:50 v2:50');
    res = await s.call('PATCH', '/api/v1/releases/reviews-canary', { traffic: { weights: { v1: 20, v2: 80 } } });
    expect(res.status).toBe(200);
    expect(vsRoutes(api)).toBe('v1:20 v2:80');

    // Dry run of the finish: reviews-v1 was not created by Canary Mesh, so it would be left running.
    before = everything(s);
    res = await s.call('DELETE', '/api/v1/releases/reviews-canary?keep=v2&dryRun=true');
    expect(res.status).toBe(200);
    expect(res.body.finish).toEqual({ release: 'reviews-canary', service: 'reviews', kept: 'v2', retired: 'v1' });
    expect(res.body.plan.map((p: PlanStep) => `${p.action} ${p.kind} ${p.name}`)).toEqual([
      'update DestinationRule reviews',
      'update VirtualService reviews',
      'unchanged Deployment reviews-v1',
    ]);
    expect(res.body.plan[2].reason).toContain('was not created by Canary Mesh; it is left running');
    expect(everything(s)).toEqual(before);

    // Finish keeping v2: routing to v2 alone, subset v1 gone; reviews-v1 is not ours and stays.
    res = await s.call('DELETE', '/api/v1/releases/reviews-canary?keep=v2');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ release: 'reviews-canary', service: 'reviews', kept: 'v2', retired: 'v1' });
    expect(vsRoutes(api)).toBe('v2:100');
    expect(drSubsets(api)).toEqual(['v2']);
    expect(api.object('Deployment', 'demo', 'reviews-v1')).toBeDefined();
    expect(api.object('Deployment', 'demo', 'reviews-v2')).toBeDefined();
    await s.up.settle();
    res = await s.call('GET', '/api/v1/services/reviews');
    expect(res.body.versions.map((v: { name: string }) => v.name)).toEqual(['v2']); // v1 still runs, but it is retired
    expect((await s.call('GET', '/api/v1/releases')).body.items).toEqual([]);
    // Bookinfo's other services were never touched.
    expect(api.objectsOf('VirtualService', 'demo').map((o) => o.metadata.name)).toEqual(['reviews']);
    // The candidate's Deployment runs what the store says: no workload update was imported.
    expect(await eventsOf(s)).not.toContain('cluster version.updated');
  });

  it('finishing keeping v1 deletes the reviews-v2 Deployment it created, after routing away from it', async () => {
    const s = await start();
    await releaseAt5050(s);
    const res = await s.call('DELETE', '/api/v1/releases/reviews-canary?keep=v1');
    expect(res.body).toMatchObject({ kept: 'v1', retired: 'v2' });
    expect(vsRoutes(s.api)).toBe('v1:100');
    expect(drSubsets(s.api)).toEqual(['v1']);
    expect(s.api.object('Deployment', 'demo', 'reviews-v2')).toBeUndefined();
    // The routing changed before the Deployment was deleted.
    const writes = s.api.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path.split('/').slice(-2).join('/')}`);
    expect(writes.lastIndexOf('DELETE deployments/reviews-v2')).toBeGreaterThan(writes.lastIndexOf('PATCH virtualservices/reviews'));
    await s.up.settle();
    expect((await s.call('GET', '/api/v1/services/reviews')).body.versions.map((v: { name: string }) => v.name)).toEqual(['v1']);
  });

  it('refuses a release whose VirtualService someone else created, before writing anything; --adopt takes it over', async () => {
    const foreign: KubeObject = {
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'VirtualService',
      metadata: { name: 'reviews', namespace: 'demo' },
      spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] },
    };
    const s = await start({ seed: [foreign] });
    const before = everything(s);
    let res = await s.call('POST', '/api/v1/releases', release);
    expect(res.status).toBe(409);
    expect(res.body.error.message).toContain('VirtualService demo/reviews exists and was not created by Canary Mesh');
    expect(res.body.error.message).toContain('--adopt');
    expect(everything(s)).toEqual(before);

    // The dry run shows the refusal in the plan instead of failing.
    res = await s.call('POST', '/api/v1/releases?dryRun=1', release);
    expect(res.status).toBe(200);
    expect(res.body.plan.find((p: PlanStep) => p.kind === 'VirtualService')).toMatchObject({ action: 'refuse' });
    expect(res.body.planText).toContain('refuse');

    const adopting = await start({ adopt: true, seed: [foreign] });
    res = await adopting.call('POST', '/api/v1/releases', release);
    expect(res.status).toBe(201);
    expect(vsRoutes(adopting.api)).toBe('v1:100');
  });

  it('comes back after a restart with its releases, and the first sync writes nothing', async () => {
    const s = await start();
    await releaseAt5050(s);
    await s.up.stop();

    const writes = () => s.api.requests.filter((r) => r.method !== 'GET').length;
    const before = writes();
    const again = (await restart(s)).up;
    expect(again.controlPlane.store.getRelease('reviews-canary')?.status.phase).toBe('Progressing');
    expect(vsRoutes(s.api)).toBe('v1:50 v2:50');
    expect(writes()).toBe(before);
  });

  it('reads observed shares, topology and traces from Prometheus and Jaeger, and says so when they are away', async () => {
    // Nothing listens on these ports any more.
    const closed = await new Promise<number>((done) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as AddressInfo;
        srv.close(() => done(port));
      });
    });
    const s = await start({ prometheus: `http://127.0.0.1:${closed}`, tracing: `http://127.0.0.1:${closed}` });
    expect((await s.call('POST', '/api/v1/releases', release)).status).toBe(201);
    // A release still reads fine: its observed shares are just unknown.
    let res = await s.call('GET', '/api/v1/releases/reviews-canary');
    expect(res.status).toBe(200);
    expect(res.body.status.observed).toEqual({});
    res = await s.call('GET', '/api/v1/topology?window=60');
    expect(res.status).toBe(500);
    expect(res.body.error).toMatchObject({ code: 'Upstream' });
    expect(res.body.error.message).toContain(`Prometheus at http://127.0.0.1:${closed} cannot be reached`);
    res = await s.call('GET', '/api/v1/traces');
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('service: required with --tracing');
  });

  it('keeps services and versions current: a Deployment that appears is a version, one that goes is removed', async () => {
    const s = await start();
    s.api.seed(reviewsV3Deployment());
    const names = async () => (await s.call('GET', '/api/v1/services/reviews')).body.versions.map((v: { name: string }) => v.name);
    await waitForValue('v3 to appear', names, (n) => n.join() === 'v1,v3');
    const client = s.cluster.client();
    await client.delete({ group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' }, 'reviews-v3', 'demo');
    await waitForValue('v3 to go', names, (n) => n.join() === 'v1');
    const events = (await s.call('GET', '/api/v1/events')).body.items.map(
      (e: { actor: string; action: string }) => `${e.actor} ${e.action}`,
    );
    expect(events).toEqual(expect.arrayContaining(['cluster version.added', 'cluster version.removed']));
  });

  it('PUT .../routes: planned first, refused with 409 NotOwned when someone else owns an object, and dry-runnable', async () => {
    const rules = { rules: [{ route: [{ version: 'v1', weight: 100 }] }] };
    const s = await start();

    // Dry run: the plan, and nothing written anywhere.
    let before = everything(s);
    let res = await s.call('PUT', '/api/v1/services/reviews/routes?dryRun=true', rules);
    expect(res.status).toBe(200);
    expect(res.body.dryRun).toBe(true);
    expect(res.body.service.routes).toEqual(rules.rules.map((r) => ({ ...r })));
    expect(res.body.plan.map((p: PlanStep) => `${p.action} ${p.kind} ${p.name}`)).toEqual([
      'create DestinationRule reviews',
      'create VirtualService reviews',
    ]);
    expect(res.body.planText).toContain('create    VirtualService demo/reviews');
    expect(everything(s)).toEqual(before);
    // A dry run validates as the real call does.
    res = await s.call('PUT', '/api/v1/services/reviews/routes?dryRun=true', { rules: [{ route: [{ version: 'v9', weight: 100 }] }] });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('rules.0.route.0.version: version "v9" does not exist');

    // The real call returns once the objects are applied.
    res = await s.call('PUT', '/api/v1/services/reviews/routes', rules);
    expect(res.status).toBe(200);
    expect(res.body.routes).toHaveLength(1);
    expect(vsRoutes(s.api)).toBe('v1:100');

    // A VirtualService someone else created: refused before anything changes, neither store nor cluster.
    const foreign: KubeObject = {
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'VirtualService',
      metadata: { name: 'ratings', namespace: 'demo' },
      spec: { hosts: ['ratings'], http: [{ route: [{ destination: { host: 'ratings', subset: 'v1' } }] }] },
    };
    s.api.seed(foreign);
    before = everything(s);
    res = await s.call('PUT', '/api/v1/services/ratings/routes', rules);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('NotOwned');
    expect(res.body.error.message).toContain('VirtualService demo/ratings exists and was not created by Canary Mesh');
    expect(res.body.error.message).toContain('--adopt');
    expect(everything(s)).toEqual(before);
    expect(s.up.controlPlane.store.getService('ratings')?.routes).toEqual([]);
    expect((await eventsOf(s)).filter((e) => e.endsWith('cluster.apply-failed'))).toEqual([]);
    // Its dry run shows the refusal instead of failing.
    res = await s.call('PUT', '/api/v1/services/ratings/routes?dryRun=1', rules);
    expect(res.status).toBe(200);
    expect(res.body.plan.find((p: PlanStep) => p.kind === 'VirtualService')).toMatchObject({ action: 'refuse' });
    expect(everything(s)).toEqual(before);
  });

  it("follows a Deployment whose image or env changes: the version's workload shows what runs, an event by cluster", async () => {
    const s = await start();
    const d = s.api.object('Deployment', 'demo', 'reviews-v1') as Deployment;
    const containers = structuredClone(d.spec.template.spec.containers);
    containers[0]!.image = 'docker.io/istio/examples-bookinfo-reviews-v1:1.21.0';
    containers[0]!.env = [...(containers[0]!.env ?? []), { name: 'LOG_LEVEL', value: 'debug' }];
    const client = s.cluster.client();
    // kubectl set image / set env: a plain update of the Deployment.
    await client.mergePatch(
      RESOURCES.Deployment,
      'reviews-v1',
      { spec: { template: { spec: { containers } } } },
      { fieldManager: 'kubectl-set' },
    );
    const workload = async () => (await s.call('GET', '/api/v1/services/reviews')).body.versions[0].workload;
    await waitForValue('the new image in the store', workload, (w) => w.image === 'docker.io/istio/examples-bookinfo-reviews-v1:1.21.0');
    expect((await workload()).env).toEqual({ LOG_DIR: '/tmp/logs', LOG_LEVEL: 'debug' });
    const events = (await s.call('GET', '/api/v1/events')).body.items.filter((e: { action: string }) => e.action === 'version.updated');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: 'cluster', resourceName: 'reviews' });
    expect(events[0].message).toContain(
      'image docker.io/istio/examples-bookinfo-reviews-v1:1.20.3 -> docker.io/istio/examples-bookinfo-reviews-v1:1.21.0',
    );
    expect(events[0].message).toContain('env LOG_LEVEL');
    // Following it writes nothing to the cluster (the only write is the test's own patch).
    expect(s.api.requests.filter((r) => r.method !== 'GET')).toHaveLength(1);

    // A change made while the control plane was away is picked up at start.
    containers[0]!.image = 'docker.io/istio/examples-bookinfo-reviews-v1:1.22.0';
    await s.up.stop();
    await client.mergePatch(
      RESOURCES.Deployment,
      'reviews-v1',
      { spec: { template: { spec: { containers } } } },
      { fieldManager: 'kubectl-set' },
    );
    const again = await restart(s);
    expect((await again.call('GET', '/api/v1/services/reviews')).body.versions[0].workload.image).toBe(
      'docker.io/istio/examples-bookinfo-reviews-v1:1.22.0',
    );
  });

  it('a deleted Kubernetes Service removes the service (after its release ends); the API refuses to delete one that runs', async () => {
    const s = await start();
    const client = s.cluster.client();

    // The API refuses: the cluster would bring it back. Nothing changes.
    const before = everything(s);
    const res = await s.call('DELETE', '/api/v1/services/ratings');
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('NotAllowed');
    expect(res.body.error.message).toContain('service "ratings" runs in the cluster (Service demo/ratings, Deployments ratings-v1)');
    expect(res.body.error.message).toContain('kubectl delete service ratings -n demo');
    expect(everything(s)).toEqual(before);

    // Deleting the Kubernetes Service removes it from the store, by cluster; its Deployment is left as it is.
    await client.delete(RESOURCES.Service, 'ratings', 'demo');
    await waitForValue(
      'ratings to be removed',
      async () => (await s.call('GET', '/api/v1/services/ratings')).status,
      (st) => st === 404,
    );
    expect(await eventsOf(s)).toContain('cluster service.deleted');
    expect(s.api.object('Deployment', 'demo', 'ratings-v1')).toBeDefined();

    // With a release active, the service stays until the release is finished.
    await releaseAt5050(s);
    await client.delete(RESOURCES.Service, 'reviews', 'demo');
    // Once the informer has seen the deletion and the store has taken it in, the service is still there.
    await waitFor('the informer to see the Service deleted', () => !s.up.backend.inventory().services.some((x) => x.name === 'reviews'));
    await s.up.settle();
    expect(await versionNames(s)).toBe('v1,v2');
    expect((await s.call('DELETE', '/api/v1/releases/reviews-canary?keep=v1')).status).toBe(200);
    // Finishing still retires the candidate (reviews-v2 was created by Canary Mesh), and then the service goes.
    expect(s.api.object('Deployment', 'demo', 'reviews-v2')).toBeUndefined();
    await waitForValue(
      'reviews to be removed',
      async () => (await s.call('GET', '/api/v1/services/reviews')).status,
      (st) => st === 404,
    );
    expect(s.api.object('Deployment', 'demo', 'reviews-v1')).toBeDefined();

    // The Service created again: the service is imported again.
    s.api.seed(reviewsService('demo'));
    await waitForValue(
      'reviews to come back',
      () => versionNames(s),
      (n) => n === 'v1',
    );
    expect(s.up.controlPlane.store.listServices().map((x) => x.name)).toEqual(['reviews']); // ratings stays removed
  });

  it('a retired version whose Deployment is left running is not imported again after a restart, until that Deployment is replaced', async () => {
    let s = await start();
    await releaseAt5050(s);
    expect((await s.call('DELETE', '/api/v1/releases/reviews-canary?keep=v2')).status).toBe(200);
    await s.up.settle();
    expect(await versionNames(s)).toBe('v2');
    expect(s.api.object('Deployment', 'demo', 'reviews-v1')).toBeDefined(); // not ours, no --adopt: left running

    s = await restart(s);
    expect(await versionNames(s)).toBe('v2');
    expect(drSubsets(s.api)).toEqual(['v2']);
    expect(s.up.controlPlane.store.listRetiredVersions()).toMatchObject([{ service: 'reviews', version: 'v1', deployment: 'reviews-v1' }]);

    // reviews-v1 deleted and deployed anew (another uid): that is a new version of reviews, imported.
    const client = s.cluster.client();
    await client.delete(RESOURCES.Deployment, 'reviews-v1', 'demo');
    await waitForValue(
      'the retired record to be forgotten',
      () => s.up.controlPlane.store.listRetiredVersions().length,
      (n) => n === 0,
    );
    s.api.seed(reviewsV1Deployment('demo'));
    await waitForValue(
      'v1 to be imported again',
      () => versionNames(s),
      (n) => n === 'v2,v1',
    );
  });

  it('a version retired through the API whose Deployment is not ours stays retired across restarts', async () => {
    let s = await start();
    s.api.seed(reviewsV3Deployment());
    await waitForValue(
      'v3 to appear',
      () => versionNames(s),
      (n) => n === 'v1,v3',
    );
    const res = await s.call('DELETE', '/api/v1/services/reviews/versions/v3');
    expect(res.status).toBe(200);
    await s.up.settle();
    expect(s.api.object('Deployment', 'demo', 'reviews-v3')).toBeDefined();
    s = await restart(s);
    expect(await versionNames(s)).toBe('v1');
    // Added back through the API, it is no longer retired.
    const added = await s.call('POST', '/api/v1/services/reviews/versions', {
      name: 'v3',
      workload: { kind: 'kubernetes', image: 'docker.io/istio/examples-bookinfo-reviews-v1:1.20.3', env: { LOG_DIR: '/tmp/logs' } },
    });
    expect(added.status).toBe(201);
    expect(s.up.controlPlane.store.listRetiredVersions()).toEqual([]);
  });
});
