import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConflictError, type Release, type Rule, type Service } from '../core/index.js';
import { ClusterTraffic } from './cluster-traffic.js';
import { KubeApiError, KubeClient } from './kube-client.js';
import { FIELD_MANAGER, type KubeObject, RESOURCES } from './kube-object.js';
import { formatPlan } from './plan.js';
import { renderTrafficObjects, type TrafficServiceInput } from './render.js';
import { reviewsV1Deployment } from '../../test/support/kubernetes/bookinfo-objects.js';
import { FakeApiServer } from '../../test/support/kubernetes/fake-api-server.js';
import { TrafficApplier } from './traffic-applier.js';

const k8s = { kind: 'kubernetes' as const, image: 'x', env: {}, replicas: 1 };
const reviews: TrafficServiceInput = {
  name: 'reviews',
  port: 9080,
  versions: [
    { name: 'v1', labels: {}, workload: k8s },
    { name: 'v2', labels: {}, workload: k8s },
  ],
};
const split = (v1: number): Rule[] => [
  {
    route: [
      { version: 'v1', weight: v1 },
      { version: 'v2', weight: 100 - v1 },
    ],
  },
];
const weights = (vs: KubeObject | undefined) =>
  ((vs as KubeObject).spec as { http: { route: { destination: { subset: string }; weight: number }[] }[] }).http[0]!.route.map(
    (r) => `${r.destination.subset}:${r.weight}`,
  ).join(' ');

let api: FakeApiServer;
let client: KubeClient;
let applier: TrafficApplier;

beforeEach(async () => {
  api = new FakeApiServer();
  client = new KubeClient({ server: await api.start(), namespace: 'demo' });
  applier = new TrafficApplier(client);
});
afterEach(() => api.close());

describe('TrafficApplier: server-side apply under the canary-mesh field manager', () => {
  it('creates the DestinationRule and VirtualService, then updates only what changed', async () => {
    const first = await applier.apply(renderTrafficObjects(reviews, split(50), { namespace: 'demo' }));
    expect(first.map((a) => `${a.action} ${a.object.kind}`)).toEqual(['create DestinationRule', 'create VirtualService']);
    const vs = api.object('VirtualService', 'demo', 'reviews')!;
    expect(weights(vs)).toBe('v1:50 v2:50');
    expect(vs.metadata.managedFields?.map((m) => [m.manager, m.operation])).toEqual([[FIELD_MANAGER, 'Apply']]);
    const applies = api.requests.filter((r) => r.method === 'PATCH');
    expect(
      applies.every(
        (r) => r.contentType === 'application/apply-patch+yaml' && r.query.fieldManager === 'canary-mesh' && r.query.force === undefined,
      ),
    ).toBe(true);

    const second = await applier.apply(renderTrafficObjects(reviews, split(90), { namespace: 'demo' }));
    expect(second.map((a) => `${a.action} ${a.object.kind} ${a.changes.join(',')}`)).toEqual([
      'unchanged DestinationRule ',
      'update VirtualService .spec.http',
    ]);
    expect(weights(api.object('VirtualService', 'demo', 'reviews'))).toBe('v1:90 v2:10');
  });

  it('dry run shows the plan with the YAML and changes nothing', async () => {
    await applier.apply(renderTrafficObjects(reviews, split(50), { namespace: 'demo' }));
    const before = api.object('VirtualService', 'demo', 'reviews')!.metadata.resourceVersion;
    const plan = await applier.apply(renderTrafficObjects(reviews, split(0), { namespace: 'demo' }), {
      dryRun: true,
      deletes: [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'gone' } }],
    });
    const text = formatPlan(plan);
    expect(text).toContain('unchanged DestinationRule demo/reviews');
    expect(text).toContain('update    VirtualService demo/reviews (.spec.http)');
    expect(text).toContain('kind: VirtualService');
    expect(text).toContain('      weight: 0');
    expect(text).not.toContain('gone'); // nothing to delete: it does not exist
    expect(api.object('VirtualService', 'demo', 'reviews')!.metadata.resourceVersion).toBe(before);
    expect(weights(api.object('VirtualService', 'demo', 'reviews'))).toBe('v1:50 v2:50');
  });

  it('never overwrites a VirtualService it did not create, unless told to adopt it', async () => {
    const theirs = renderTrafficObjects(reviews, [{ route: [{ version: 'v1', weight: 100 }] }], { namespace: 'demo' });
    api.seed(theirs[1]!, 'kubectl-client-side-apply');
    const ours = renderTrafficObjects(reviews, split(50), { namespace: 'demo' });

    const err = await applier.apply(ours).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toBe(
      'VirtualService demo/reviews exists and was not created by Canary Mesh (managed by kubectl-client-side-apply); it is left as it is. Rerun with --adopt to take it over',
    );
    // Refused as a whole: not even the DestinationRule (which nobody had) was created.
    expect(api.object('DestinationRule', 'demo', 'reviews')).toBeUndefined();
    expect(weights(api.object('VirtualService', 'demo', 'reviews'))).toBe('v1:100');

    const adopted = await applier.apply(ours, { adopt: true });
    expect(adopted.map((a) => a.action)).toEqual(['create', 'update']);
    expect(weights(api.object('VirtualService', 'demo', 'reviews'))).toBe('v1:50 v2:50');
    expect(api.requests.filter((r) => r.method === 'PATCH').every((r) => r.query.force === 'true')).toBe(true);
  });

  it('does not overwrite a VirtualService someone edited after us (kubectl edit), unless told to adopt', async () => {
    await applier.apply(renderTrafficObjects(reviews, split(50), { namespace: 'demo' }));
    // An operator edits the weights by hand: the fields move to their manager.
    const edited = structuredClone(api.object('VirtualService', 'demo', 'reviews')!) as {
      spec: { http: { route: { weight: number }[] }[] };
    } & KubeObject;
    edited.spec.http[0]!.route[0]!.weight = 70;
    edited.spec.http[0]!.route[1]!.weight = 30;
    await client.mergePatch(RESOURCES.VirtualService, 'reviews', { spec: edited.spec }, { fieldManager: 'kubectl-edit' });
    expect(api.object('VirtualService', 'demo', 'reviews')!.metadata.managedFields?.map((m) => m.manager)).toEqual([
      'canary-mesh',
      'kubectl-edit',
    ]);

    const err = await applier.apply(renderTrafficObjects(reviews, split(10), { namespace: 'demo' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as Error).message).toContain(
      'VirtualService demo/reviews was changed by someone else since Canary Mesh applied it: .spec.http (by kubectl-edit)',
    );
    expect((err as Error).message).toContain('Rerun with --adopt');
    expect(weights(api.object('VirtualService', 'demo', 'reviews'))).toBe('v1:70 v2:30');

    await applier.apply(renderTrafficObjects(reviews, split(10), { namespace: 'demo' }), { adopt: true });
    const vs = api.object('VirtualService', 'demo', 'reviews')!;
    expect(weights(vs)).toBe('v1:10 v2:90');
    expect(vs.metadata.managedFields?.map((m) => m.manager)).toEqual(['canary-mesh']);
  });

  it('deletes what it is told to delete', async () => {
    await applier.apply(renderTrafficObjects(reviews, split(50), { namespace: 'demo' }));
    const plan = await applier.apply([], {
      deletes: [{ apiVersion: 'networking.istio.io/v1beta1', kind: 'DestinationRule', metadata: { name: 'reviews' } }],
    });
    expect(plan.map((a) => `${a.action} ${a.object.kind}`)).toEqual(['delete DestinationRule']);
    expect(api.object('DestinationRule', 'demo', 'reviews')).toBeUndefined();
  });
});

describe('FakeApiServer follows the API conventions the client relies on', () => {
  it('answers a server-side apply conflict with 409 and the conflicting field, as the API server does', async () => {
    const [, vs] = renderTrafficObjects(reviews, split(50), { namespace: 'demo' });
    await client.apply(vs!, { fieldManager: 'someone' });
    const err = await client.apply(renderTrafficObjects(reviews, split(20), { namespace: 'demo' })[1]!).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).status).toBe(409);
    expect((err as KubeApiError).message).toBe(
      'Apply failed with 1 conflict: conflict with "someone" using networking.istio.io/v1beta1: .spec.http',
    );
    // Applying the same values is no conflict: the field is then shared.
    await client.apply(vs!);
    expect(
      api
        .object('VirtualService', 'demo', 'reviews')!
        .metadata.managedFields?.map((m) => m.manager)
        .sort(),
    ).toEqual(['canary-mesh', 'someone']);
  });

  it('rejects a PUT with a stale resourceVersion (409) and a GET of a missing object (404)', async () => {
    const created = api.seed({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's', namespace: 'demo' },
      spec: { ports: [{ port: 80 }] },
    });
    const url = `${api.url}/api/v1/namespaces/demo/services/s`;
    const stale = { ...created, metadata: { ...created.metadata, resourceVersion: '1' } };
    const put = await fetch(url, { method: 'PUT', body: JSON.stringify(stale), headers: { 'content-type': 'application/json' } });
    expect(put.status).toBe(409);
    expect(((await put.json()) as { message: string }).message).toContain('the object has been modified');
    const ok = await fetch(url, { method: 'PUT', body: JSON.stringify(created), headers: { 'content-type': 'application/json' } });
    expect(ok.status).toBe(200);
    expect(await client.get(RESOURCES.Service, 'nope')).toBeUndefined();
  });
});

describe('ClusterTraffic.planRelease: `canary release create --dry-run`', () => {
  it('lists the candidate Deployment copied from the cluster’s baseline and the traffic objects, changing nothing', async () => {
    api.seed(reviewsV1Deployment('demo'));
    const now = new Date().toISOString();
    const service: Service = {
      name: 'reviews',
      port: 9080,
      versions: [reviews.versions[0]!],
      routes: [],
      resourceVersion: '1',
      createdAt: now,
      updatedAt: now,
      createdBy: 't',
    };
    const release: Release = {
      name: 'rc',
      service: 'reviews',
      strategy: 'canary',
      baseline: 'v1',
      candidate: { name: 'v2', workload: { image: 'reviews:v2' } },
      traffic: { weights: { v1: 50, v2: 50 } },
      status: { phase: 'Pending', governor: null, observed: {}, conditions: [], candidateCreated: true },
      resourceVersion: '1',
      createdAt: now,
      updatedAt: now,
      createdBy: 't',
    };
    const before = api.requests.filter((r) => r.method !== 'GET').length;
    const text = formatPlan(await new ClusterTraffic({ client, namespace: 'demo' }).planRelease(service, release));
    expect(text.split('\n').slice(0, 3)).toEqual([
      'create    Deployment demo/reviews-v2',
      'create    DestinationRule demo/reviews',
      'create    VirtualService demo/reviews',
    ]);
    expect(text).toContain('image: reviews:v2');
    expect(api.requests.filter((r) => r.method !== 'GET').length).toBe(before);
  });
});

describe('ClusterTraffic with --traffic gateway-api', () => {
  const now = new Date().toISOString();
  const service: Service = {
    ...reviews,
    versions: reviews.versions,
    routes: split(80),
    resourceVersion: '1',
    createdAt: now,
    updatedAt: now,
    createdBy: 't',
  };

  it('applies per-version Services and the HTTPRoute, and on finish removes the retired version’s Service', async () => {
    const traffic = new ClusterTraffic({ client, namespace: 'demo', traffic: 'gateway-api' });
    await traffic.sync(service, undefined);
    expect(api.objectsOf('Service', 'demo').map((s) => s.metadata.name)).toEqual(['reviews-v1', 'reviews-v2']);
    const backends = () =>
      (api.object('HTTPRoute', 'demo', 'reviews')!.spec as { rules: { backendRefs: { name: string; weight: number }[] }[] }).rules
        .map((r) => r.backendRefs.map((b) => `${b.name}:${b.weight}`).join(' '))
        .join(' | ');
    expect(backends()).toBe('reviews-v1:80 reviews-v2:20');
    await traffic.finish(service, 'v2', 'v1');
    expect(backends()).toBe('reviews-v2:100');
    expect(api.objectsOf('Service', 'demo').map((s) => s.metadata.name)).toEqual(['reviews-v2']);
  });

  it('refuses to delete a per-version Service someone else created', async () => {
    api.seed({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'reviews-v1', namespace: 'demo' }, spec: { ports: [{ port: 9080 }] } });
    const traffic = new ClusterTraffic({ client, namespace: 'demo', traffic: 'gateway-api' });
    await expect(traffic.finish(service, 'v2', 'v1')).rejects.toThrow(
      'Service demo/reviews-v1 was not created by Canary Mesh; it is not deleted. Rerun with --adopt to delete it',
    );
    expect(api.object('Service', 'demo', 'reviews-v1')).toBeDefined();
  });
});
