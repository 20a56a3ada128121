import { afterEach, describe, expect, it } from 'vitest';
import {
  type Release,
  type ReleaseSpecInput,
  ReleaseSpec,
  type Service,
  markCandidateFailed,
  markCandidateReady,
  planFinish,
  planRelease,
  resume,
  rollback,
  takeover,
} from '../core/index.js';
import type { DesiredVersion } from '../workloads/workload-runtime.js';
import { inventoryFromCluster } from './cluster-inventory.js';
import { ClusterTraffic } from './cluster-traffic.js';
import { KubeClient } from './kube-client.js';
import type { Deployment, KubeObject, KubeService } from './kube-object.js';
import { KubernetesRuntime } from './kubernetes-runtime.js';
import { reviewsService, reviewsV1Deployment } from '../../test/support/kubernetes/bookinfo-objects.js';
import { FakeApiServer, type FakeApiServerOptions } from '../../test/support/kubernetes/fake-api-server.js';
import { validateObject } from '../../test/support/kubernetes/validate-object.js';
import { waitForValue } from '../../test/support/wait-for.js';

const V2_IMAGE = 'kubesphere/examples-bookinfo-reviews-v2:1.16.2';
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function cluster(options: FakeApiServerOptions = {}, seed: KubeObject[] = [reviewsService('demo'), reviewsV1Deployment('demo')]) {
  const api = new FakeApiServer({ controllerDelayMs: 10, ...options });
  const client = new KubeClient({ server: await api.start(), namespace: 'demo' });
  for (const o of seed) api.seed(o);
  const runtime = new KubernetesRuntime({ client, rolloutDeadlineMs: 400 });
  open.push(api, { close: () => runtime.stopAll() });
  return { api, client, runtime };
}

/** The service as the cluster has it (what `canary up --kubernetes` reads). */
function serviceFromCluster(api: FakeApiServer): Service {
  const inv = inventoryFromCluster(api.objectsOf('Service', 'demo') as KubeService[], api.objectsOf('Deployment', 'demo') as Deployment[]);
  const now = new Date().toISOString();
  return { ...inv.services.find((s) => s.name === 'reviews')!, resourceVersion: '1', createdAt: now, updatedAt: now, createdBy: 'test' };
}

const desired = (service: Service): DesiredVersion[] => service.versions.map((version) => ({ service: service.name, version }));
type VsHttp = { match?: { headers?: Record<string, unknown> }[]; route: { destination: { subset: string }; weight: number }[] };
const vsHttp = (api: FakeApiServer) => (api.object('VirtualService', 'demo', 'reviews')!.spec as { http: VsHttp[] }).http;
const isPreview = (h: VsHttp) => h.match?.some((m) => m.headers?.['x-canary-preview'] !== undefined) ?? false;
/** The ordinary routes' weights (the preview route, first while the candidate runs, is checked on its own). */
const vsWeights = (api: FakeApiServer) =>
  vsHttp(api)
    .filter((h) => !isPreview(h))
    .map((h) => h.route.map((r) => `${r.destination.subset}:${r.weight}`).join(' '))
    .join(' | ');

describe('KubernetesRuntime', () => {
  it('finds running versions by their labels and reports them ready with their pods', async () => {
    const { runtime, api } = await cluster();
    await waitForValue(
      'the baseline pod',
      () => api.objectsOf('Pod', 'demo').length,
      (n) => n === 1,
    );
    const service = serviceFromCluster(api);
    expect(service.versions.map((v) => [v.name, v.workload])).toEqual([
      [
        'v1',
        { kind: 'kubernetes', image: 'docker.io/istio/examples-bookinfo-reviews-v1:1.20.3', env: { LOG_DIR: '/tmp/logs' }, replicas: 1 },
      ],
    ]);
    await runtime.reconcile(desired(service));
    const health = await waitForValue(
      'v1 ready',
      () => runtime.health('reviews', 'v1'),
      (h) => h.ready,
    );
    expect(health.reason).toBe('1 of 1 replicas available');
    expect(runtime.endpoints('reviews', 'v1')).toEqual([
      { address: '10.0.0.2:9080', instance: expect.stringMatching(/^reviews-v1-/), ready: true },
    ]);
    expect(runtime.instances('reviews', 'v1')[0]).toMatchObject({ ready: true, state: 'ready' });
    // Nothing was created or changed on the cluster.
    expect(api.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('creates a candidate as a copy of the baseline Deployment, Pending until rolled out, and deletes it when retired', async () => {
    const { runtime, api } = await cluster();
    const service = serviceFromCluster(api);
    const plan = planRelease(
      ReleaseSpec.parse({
        name: 'rc',
        service: 'reviews',
        candidate: { name: 'v2', workload: { image: V2_IMAGE } },
        traffic: { weights: { v1: 50, v2: 50 } },
      }),
      service,
      undefined,
      'now',
    );
    let changes = 0;
    runtime.onChange(() => changes++);
    await runtime.reconcile(desired({ ...service, versions: [...service.versions, plan.newVersion!] }));
    const created = api.object('Deployment', 'demo', 'reviews-v2') as Deployment;
    validateObject(created);
    expect(created.spec.template.spec.containers[0]!.image).toBe(V2_IMAGE);
    expect(created.spec.template.metadata?.labels).toEqual({ app: 'reviews', version: 'v2' });
    expect(created.metadata.managedFields?.[0]).toMatchObject({ manager: 'canary-mesh', operation: 'Apply' });
    await waitForValue(
      'v2 ready',
      () => runtime.health('reviews', 'v2'),
      (h) => h.ready,
    );
    expect(changes).toBeGreaterThan(0);

    // Retiring v2 (ours) deletes its Deployment; retiring v1 (not ours) leaves it running.
    await runtime.reconcile(desired(service));
    expect(api.object('Deployment', 'demo', 'reviews-v2')).toBeUndefined();
    await runtime.reconcile([]);
    expect(api.object('Deployment', 'demo', 'reviews-v1')).toBeDefined();
  });

  it('fails a candidate that never becomes ready, with the pods’ reason, after the rollout deadline', async () => {
    const { runtime, api } = await cluster({
      podBehaviour: (d) =>
        d.spec.template.spec.containers[0]!.image === 'reviews:typo'
          ? { ready: false, reason: 'ImagePullBackOff', message: 'Back-off pulling image "reviews:typo"' }
          : { ready: true },
    });
    const service = serviceFromCluster(api);
    const v2 = { name: 'v2', labels: {}, workload: { kind: 'kubernetes' as const, image: 'reviews:typo', env: {}, replicas: 1 } };
    await runtime.reconcile(desired({ ...service, versions: [...service.versions, v2] }));
    const pending = await waitForValue(
      'the pod reason',
      () => runtime.health('reviews', 'v2'),
      (h) => h.reason.includes('ImagePullBackOff'),
    );
    expect(pending).toMatchObject({ ready: false, failed: false });
    const failed = await waitForValue(
      'the deadline',
      () => runtime.health('reviews', 'v2'),
      (h) => h.failed,
    );
    expect(failed.reason).toBe(
      'Deployment demo/reviews-v2 not ready within 400 ms (0 of 1 ready); pod ' +
        api.objectsOf('Pod', 'demo').find((p) => p.metadata.labels?.version === 'v2')!.metadata.name +
        ': ImagePullBackOff: Back-off pulling image "reviews:typo"',
    );
  });

  it('fails clearly when the baseline Deployment lacks the version label', async () => {
    const bare = reviewsV1Deployment('demo');
    bare.metadata.name = 'reviews';
    delete bare.spec.template.metadata!.labels!.version;
    delete bare.spec.selector.matchLabels!.version;
    const { runtime } = await cluster({}, [reviewsService('demo'), bare]);
    const v2 = { name: 'v2', labels: {}, workload: { kind: 'kubernetes' as const, image: V2_IMAGE, env: {}, replicas: 1 } };
    await runtime.reconcile([{ service: 'reviews', version: v2 }]);
    expect(runtime.health('reviews', 'v2')).toEqual({
      ready: false,
      failed: true,
      reason:
        'cannot copy Deployment demo/reviews for v2: spec.template.metadata.labels.version is missing. Canary Mesh tells versions apart by the pod labels app=<service> and version=<version>, as Istio does',
    });
  });
});

describe('a release on the cluster, end to end (the seed article on the fake API server)', () => {
  it('create -> ready -> 50/50 -> take over -> roll back -> resume -> finish keeping v2', async () => {
    const { runtime, api, client } = await cluster();
    const traffic = new ClusterTraffic({ client, namespace: 'demo' });
    let service = serviceFromCluster(api);
    const spec: ReleaseSpecInput = {
      name: 'reviews-canary',
      service: 'reviews',
      candidate: { name: 'v2', workload: { image: V2_IMAGE } },
      traffic: { weights: { v1: 50, v2: 50 } },
    };
    const plan = planRelease(ReleaseSpec.parse(spec), service, undefined, 'now');
    let release: Release = {
      ...ReleaseSpec.parse(spec),
      baseline: plan.baseline,
      traffic: plan.traffic,
      status: plan.status,
      resourceVersion: '1',
      createdAt: 'now',
      updatedAt: 'now',
      createdBy: 'test',
    };
    service = { ...service, versions: [...service.versions, plan.newVersion!] };

    // Pending: the candidate starts, the baseline keeps everything.
    await runtime.reconcile(desired(service));
    await traffic.sync(service, release);
    expect(vsWeights(api)).toBe('v1:100');
    await waitForValue(
      'v2 ready',
      () => runtime.health('reviews', 'v2'),
      (h) => h.ready,
    );
    release = { ...release, status: markCandidateReady(release, 'now') };
    expect(release.status.phase).toBe('Progressing');
    await traffic.sync(service, release);
    expect(vsWeights(api)).toBe('v1:50 v2:50');
    // The preview route comes first: `x-canary-preview: v2` reaches v2 whatever the weights.
    expect(vsHttp(api)[0]).toEqual({
      match: [{ headers: { 'x-canary-preview': { exact: 'v2' } } }],
      route: [{ destination: { host: 'reviews', port: { number: 9080 }, subset: 'v2' }, weight: 100 }],
    });
    for (const kind of ['VirtualService', 'DestinationRule'] as const) validateObject(api.object(kind, 'demo', 'reviews')!);

    release = { ...release, status: takeover(release, 'v2') };
    await traffic.sync(service, release);
    expect(vsWeights(api)).toBe('v2:100');
    release = { ...release, status: rollback(release) };
    await traffic.sync(service, release);
    expect(vsWeights(api)).toBe('v1:100');
    release = { ...release, status: resume(release) };
    await traffic.sync(service, release);
    expect(vsWeights(api)).toBe('v1:50 v2:50');

    // Finish keeping v2: route everything to v2 first, then retire v1. v1 was not created by us: it stays
    // until adopted, as the runtime only deletes what it created unless told otherwise.
    const { retire } = planFinish(release, 'v2');
    await traffic.finish(service, 'v2', retire);
    expect(vsWeights(api)).toBe('v2:100');
    expect((api.object('DestinationRule', 'demo', 'reviews')!.spec as { subsets: { name: string }[] }).subsets.map((s) => s.name)).toEqual([
      'v2',
    ]);
    const adopting = new KubernetesRuntime({ client, retireForeign: true });
    open.push({ close: () => adopting.stopAll() });
    await adopting.reconcile(desired(service));
    await adopting.reconcile(desired({ ...service, versions: service.versions.filter((v) => v.name === 'v2') }));
    expect(api.objectsOf('Deployment', 'demo').map((d) => d.metadata.name)).toEqual(['reviews-v2']);
  });

  it('a failed candidate keeps every request on the baseline', async () => {
    const { runtime, api, client } = await cluster({ podBehaviour: () => ({ ready: false, reason: 'CrashLoopBackOff' }) });
    const service = serviceFromCluster(api);
    const spec = ReleaseSpec.parse({
      name: 'rc',
      service: 'reviews',
      candidate: { name: 'v2', workload: { image: 'bad' } },
      traffic: { weights: { v1: 0, v2: 100 } },
    });
    const plan = planRelease(spec, service, undefined, 'now');
    const withV2 = { ...service, versions: [...service.versions, plan.newVersion!] };
    await runtime.reconcile(desired(withV2));
    const health = await waitForValue(
      'v2 failed',
      () => runtime.health('reviews', 'v2'),
      (h) => h.failed,
    );
    const release: Release = {
      ...spec,
      baseline: 'v1',
      traffic: plan.traffic,
      status: plan.status,
      resourceVersion: '1',
      createdAt: 'now',
      updatedAt: 'now',
      createdBy: 't',
    };
    const failed = { ...release, status: markCandidateFailed(release, health.reason, 'now') };
    expect(failed.status.phase).toBe('Failed');
    await new ClusterTraffic({ client, namespace: 'demo' }).sync(withV2, failed);
    expect(vsWeights(api)).toBe('v1:100');
  });
});
