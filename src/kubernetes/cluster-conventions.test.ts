import { afterEach, describe, expect, it } from 'vitest';
import type { Service } from '../core/index.js';
import { inventoryFromCluster } from './cluster-inventory.js';
import { ClusterTraffic } from './cluster-traffic.js';
import { KubeApiError, KubeClient } from './kube-client.js';
import type { Deployment, KubeObject, KubeService } from './kube-object.js';
import { RESOURCES } from './kube-object.js';
import { KubernetesBackend } from './kubernetes-backend.js';
import { KubernetesRuntime } from './kubernetes-runtime.js';
import { cloneDeployment } from './render.js';
import { TrafficApplier } from './traffic-applier.js';
import { reviewsService, reviewsV1Deployment } from '../../test/support/kubernetes/bookinfo-objects.js';
import { controlPlaneUser, deployRbac } from '../../test/support/kubernetes/deploy-rbac.js';
import { FakeApiServer, type FakeApiServerOptions } from '../../test/support/kubernetes/fake-api-server.js';
import { validateObject } from '../../test/support/kubernetes/validate-object.js';
import { waitForValue } from '../../test/support/wait-for.js';

/**
 * What a real cluster does and the fake API server used to let pass (issue 17): each test reproduces the
 * real server's behaviour in the fake and checks that the backend copes with it.
 */

const V2_IMAGE = 'kubesphere/examples-bookinfo-reviews-v2:1.16.2';
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function fake(options: FakeApiServerOptions = {}, seed: KubeObject[] = []) {
  const api = new FakeApiServer({ controllerDelayMs: 5, ...options });
  const client = new KubeClient({ server: await api.start(), namespace: 'demo' });
  for (const o of seed) api.seed(o);
  open.push(api);
  return { api, client };
}

function runtimeOf(client: KubeClient, rolloutDeadlineMs = 60_000): KubernetesRuntime {
  const runtime = new KubernetesRuntime({ client, rolloutDeadlineMs });
  open.push({ close: () => runtime.stopAll() });
  return runtime;
}

const stored = (s: Omit<Service, 'resourceVersion' | 'createdAt' | 'updatedAt' | 'createdBy'>): Service => ({
  ...s,
  resourceVersion: '1',
  createdAt: 'now',
  updatedAt: 'now',
  createdBy: 'test',
});
const v2 = { name: 'v2', labels: {}, workload: { kind: 'kubernetes' as const, image: V2_IMAGE, env: {}, replicas: 1 } };

describe('service ports as Istio reads them (issue 17, item 3)', () => {
  /** reviews with a metrics port first and the HTTP port 80 -> the container port named "http" (9080). */
  const twoPorts = (): KubeService => {
    const svc = reviewsService('demo');
    svc.spec.ports = [
      { name: 'tcp-metrics', port: 15090, targetPort: 15090 },
      { name: 'http-web', port: 80, targetPort: 'http' },
    ];
    return svc;
  };
  const namedContainerPort = (): Deployment => {
    const d = reviewsV1Deployment('demo');
    d.spec.template.spec.containers[0]!.ports = [{ name: 'http', containerPort: 9080 }];
    return d;
  };

  it('routes the HTTP port by name, and per-version Services (Gateway API) keep the real targetPort', async () => {
    const { api, client } = await fake({}, [twoPorts(), namedContainerPort()]);
    const backend = await KubernetesBackend.connect({ client, namespace: 'demo', traffic: 'gateway-api' });
    open.push(backend);
    const reviews = backend.inventory().services.find((s) => s.name === 'reviews')!;
    expect(reviews.port).toBe(80);
    await backend.traffic.sync(stored({ ...reviews, versions: [...reviews.versions, v2] }), undefined);
    const perVersion = api.object('Service', 'demo', 'reviews-v1') as KubeService;
    // 80 -> the pods' port named http, as the real Service does: 80 -> 80 would reach no container.
    expect(perVersion.spec.ports).toEqual([{ name: 'http-web', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    const route = api.object('HTTPRoute', 'demo', 'reviews')!.spec as { rules: { backendRefs: { port: number }[] }[] };
    expect(route.rules[0]!.backendRefs[0]!.port).toBe(80);
  });

  it('takes the port named by appProtocol or by the canary-mesh.io/port annotation, and says when it cannot tell', () => {
    const deployments = [reviewsV1Deployment('demo')];
    const byAppProtocol = twoPorts();
    byAppProtocol.spec.ports = [
      { name: 'admin', port: 9000 },
      { name: 'web', port: 8080, appProtocol: 'http' },
    ];
    expect(inventoryFromCluster([byAppProtocol], deployments).services[0]!.port).toBe(8080);
    const annotated = twoPorts();
    annotated.metadata.annotations = { 'canary-mesh.io/port': 'tcp-metrics' };
    expect(inventoryFromCluster([annotated], deployments).services[0]!.port).toBe(15090);
    const unclear = twoPorts();
    unclear.spec.ports = [
      { name: 'a', port: 1 },
      { name: 'b', port: 2 },
    ];
    const inv = inventoryFromCluster([unclear], deployments);
    expect(inv.services).toEqual([]);
    expect(inv.warnings).toEqual([
      "Service reviews has 2 ports and none is HTTP by Istio's conventions (a name http or http-*, or appProtocol http); name the HTTP port so, or annotate the Service with canary-mesh.io/port: <port name or number>; service reviews is not imported",
    ]);
  });
});

describe('the candidate is not claimed by GitOps tools (issue 17, item 4)', () => {
  it('drops Argo CD, Helm and Flux ownership marks from the copy and adds its own', async () => {
    const baseline = reviewsV1Deployment('demo');
    baseline.metadata.labels = {
      ...baseline.metadata.labels,
      'app.kubernetes.io/instance': 'bookinfo',
      'app.kubernetes.io/managed-by': 'Helm',
      'app.kubernetes.io/part-of': 'bookinfo',
      'helm.sh/chart': 'reviews-1.2.3',
      'kustomize.toolkit.fluxcd.io/name': 'apps',
    };
    baseline.metadata.annotations = {
      'meta.helm.sh/release-name': 'bookinfo',
      'meta.helm.sh/release-namespace': 'demo',
      'argocd.argoproj.io/tracking-id': 'bookinfo:apps/Deployment:demo/reviews-v1',
      'argocd.argoproj.io/sync-wave': '1',
      'team.example.com/owner': 'reviews-team',
    };
    const { api, client } = await fake({}, [reviewsService('demo'), baseline]);
    const runtime = runtimeOf(client);
    await runtime.reconcile([
      { service: 'reviews', version: { name: 'v1', labels: {}, workload: { kind: 'kubernetes', image: 'x', env: {}, replicas: 1 } } },
      { service: 'reviews', version: v2 },
    ]);
    const copy = api.object('Deployment', 'demo', 'reviews-v2')!;
    expect(copy.metadata.labels).toEqual({
      app: 'reviews',
      version: 'v2',
      'app.kubernetes.io/part-of': 'bookinfo',
      'app.kubernetes.io/managed-by': 'canary-mesh',
    });
    expect(copy.metadata.annotations).toEqual({ 'team.example.com/owner': 'reviews-team', 'canary-mesh.io/copied-from': 'reviews-v1' });
  });
});

describe('readiness as `kubectl rollout status` reads it (issue 17, item 5)', () => {
  /** The fake controller leaves reviews-v1's status to the test. */
  const manual: FakeApiServerOptions = { podBehaviour: (d) => (d.metadata.name === 'reviews-v1' ? undefined : { ready: true }) };
  const status = (s: Record<string, unknown>) => ({ observedGeneration: 1, ...s });

  it('is not ready while old replicas are still terminating', async () => {
    const { api, client } = await fake(manual, [reviewsService('demo'), reviewsV1Deployment('demo')]);
    const runtime = runtimeOf(client);
    await runtime.start();
    api.setStatus('Deployment', 'demo', 'reviews-v1', status({ replicas: 2, updatedReplicas: 1, readyReplicas: 2, availableReplicas: 2 }));
    const h = await waitForValue(
      'the status',
      () => runtime.health('reviews', 'v1'),
      (x) => x.reason.includes('pending termination'),
    );
    expect(h).toEqual({ ready: false, failed: false, reason: 'rolling out: 1 of 1 replicas updated, 1 old replicas pending termination' });
  });

  it('reads Progressing=False only once the controller has seen the new generation', async () => {
    const { api, client } = await fake(manual, [reviewsService('demo'), reviewsV1Deployment('demo')]);
    const runtime = runtimeOf(client);
    await runtime.start();
    // A new rollout (generation 2) while the status still tells of generation 1's missed deadline.
    await client.mergePatch(RESOURCES.Deployment, 'reviews-v1', {
      spec: { template: { spec: { containers: [{ name: 'reviews', image: 'r:2' }] } } },
    });
    api.setStatus('Deployment', 'demo', 'reviews-v1', {
      observedGeneration: 1,
      replicas: 1,
      updatedReplicas: 0,
      conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
    });
    await waitForValue(
      'the new generation with the old status',
      () => runtime.deployments.get('reviews-v1'),
      (d) => d?.metadata.generation === 2 && d.status?.conditions?.length === 1,
    );
    const h = runtime.health('reviews', 'v1');
    expect(h).toEqual({ ready: false, failed: false, reason: 'waiting for the Deployment controller to see generation 2' });
  });

  it('says at once why pods cannot be created (ReplicaFailure: quota, PodSecurity)', async () => {
    const { api, client } = await fake(manual, [reviewsService('demo'), reviewsV1Deployment('demo')]);
    const runtime = runtimeOf(client);
    await runtime.start();
    const message = 'pods "reviews-v1-5d8f-x" is forbidden: exceeded quota: compute, requested: cpu=500m, used: cpu=2, limited: cpu=2';
    api.setStatus('Deployment', 'demo', 'reviews-v1', {
      observedGeneration: 1,
      replicas: 0,
      updatedReplicas: 0,
      conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message }],
    });
    const h = await waitForValue(
      'the ReplicaFailure',
      () => runtime.health('reviews', 'v1'),
      (x) => x.reason.includes('FailedCreate'),
    );
    expect(h).toEqual({ ready: false, failed: false, reason: `rolling out: 0 of 1 replicas ready; FailedCreate: ${message}` });
  });

  it('fails a candidate that outlived its deadline after a control-plane restart (time from the object, not memory)', async () => {
    const { client } = await fake({ podBehaviour: (d) => ({ ready: d.metadata.name !== 'reviews-v2', reason: 'ImagePullBackOff' }) }, [
      reviewsService('demo'),
      reviewsV1Deployment('demo'),
    ]);
    const before = runtimeOf(client, 400);
    const v1 = { name: 'v1', labels: {}, workload: { kind: 'kubernetes' as const, image: 'x', env: {}, replicas: 1 } };
    await before.reconcile([
      { service: 'reviews', version: v1 },
      { service: 'reviews', version: v2 },
    ]);
    await before.stopAll();
    // The control plane restarts: a new runtime finds reviews-v2 and has no memory of creating it.
    const after = runtimeOf(client, 400);
    await after.reconcile([
      { service: 'reviews', version: v1 },
      { service: 'reviews', version: v2 },
    ]);
    const h = await waitForValue(
      'the deadline after the restart',
      () => after.health('reviews', 'v2'),
      (x) => x.failed,
    );
    expect(h.reason).toMatch(
      /^Deployment demo\/reviews-v2 not ready within 400 ms \(0 of 1 ready\); pod reviews-v2-\w+-0: ImagePullBackOff/,
    );
  });

  it('does not call a version scaled to 0 replicas ready', async () => {
    const zero = reviewsV1Deployment('demo');
    zero.spec.replicas = 0;
    const { api, client } = await fake(manual, [reviewsService('demo'), zero]);
    const runtime = runtimeOf(client);
    await runtime.start();
    api.setStatus('Deployment', 'demo', 'reviews-v1', { observedGeneration: 1 });
    await waitForValue(
      'the status',
      () => runtime.deployments.get('reviews-v1')?.status?.observedGeneration,
      (g) => g === 1,
    );
    expect(runtime.health('reviews', 'v1')).toEqual({
      ready: false,
      failed: false,
      reason: 'Deployment demo/reviews-v1 is scaled to 0 replicas; no pod can serve it',
    });
  });
});

describe('what a real API server refuses (issue 17, item 6)', () => {
  it('answers 422 to a changed Deployment selector, and the plan refuses it up front even with --adopt', async () => {
    // Someone else's reviews-v2, selecting other pods than the copy would.
    const theirs = reviewsV1Deployment('demo');
    theirs.metadata.name = 'reviews-v2';
    theirs.spec.selector = { matchLabels: { app: 'reviews', track: 'old' } };
    theirs.spec.template.metadata!.labels = { app: 'reviews', track: 'old' };
    const { client } = await fake({}, [reviewsService('demo'), reviewsV1Deployment('demo'), theirs]);
    const changed = {
      ...theirs,
      metadata: { name: 'reviews-v2', namespace: 'demo' },
      spec: { ...theirs.spec, selector: { matchLabels: { app: 'reviews', version: 'v2' } } },
    };
    changed.spec.template = { ...theirs.spec.template, metadata: { labels: { app: 'reviews', version: 'v2' } } };
    const err = await client.apply(changed, { fieldManager: 'canary-mesh', force: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err).toMatchObject({ status: 422 });
    expect((err as Error).message).toContain('spec.selector: Invalid value');

    const traffic = new ClusterTraffic({ client, namespace: 'demo', adopt: true });
    const inv = inventoryFromCluster([reviewsService('demo')], [reviewsV1Deployment('demo')]);
    const service = stored(inv.services[0]!);
    const release = {
      name: 'rc',
      service: 'reviews',
      strategy: 'canary',
      baseline: 'v1',
      candidate: { name: 'v2', workload: { image: V2_IMAGE } },
      traffic: { weights: { v1: 50, v2: 50 } },
      status: { phase: 'Pending', governor: null, observed: {}, conditions: [] },
      resourceVersion: '1',
      createdAt: 'now',
      updatedAt: 'now',
      createdBy: 'test',
    } as never;
    const plan = await traffic.planRelease(service, release);
    const step = plan.find((a) => a.object.kind === 'Deployment')!;
    expect(step.action).toBe('refuse');
    expect(step.reason).toContain(
      "a Deployment's selector cannot be changed; delete it first (kubectl delete deployment reviews-v2 -n demo)",
    );
  });

  it('checks the apiVersion of an applied object against the URL', async () => {
    const { api } = await fake();
    const res = await fetch(`${api.url}/apis/apps/v1/namespaces/demo/deployments/reviews-v1?fieldManager=x`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/apply-patch+yaml' },
      body: JSON.stringify({ ...reviewsV1Deployment('demo'), apiVersion: 'apps/v1beta1' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe(
      'the API version in the data (apps/v1beta1) does not match the expected API version (apps/v1)',
    );
  });

  it('pages a LIST and answers 410 to a continue token whose snapshot was compacted away', async () => {
    const { api } = await fake({}, [
      reviewsService('demo'),
      { ...reviewsService('demo'), metadata: { name: 'ratings', namespace: 'demo' } },
    ]);
    const first = (await (await fetch(`${api.url}/api/v1/namespaces/demo/services?limit=1`)).json()) as {
      items: unknown[];
      metadata: { continue?: string; remainingItemCount?: number };
    };
    expect(first.items).toHaveLength(1);
    expect(first.metadata.remainingItemCount).toBe(1);
    api.compact();
    const next = await fetch(`${api.url}/api/v1/namespaces/demo/services?limit=1&continue=${first.metadata.continue}`);
    expect(next.status).toBe(410);
  });
});

describe('authentication and RBAC from deploy/ (issue 17, items 6 and 7)', () => {
  it('runs as deploy/base’s service account in its namespace, and says what to do when pointed at another one', async () => {
    const { api } = await fake({ tokens: { sa: controlPlaneUser('demo') }, rbac: deployRbac('demo') }, [
      reviewsService('demo'),
      reviewsV1Deployment('demo'),
      { ...reviewsService('other'), metadata: { name: 'reviews', namespace: 'other' } },
    ]);
    const asServiceAccount = (namespace: string) =>
      new KubeClient({
        server: api.url,
        namespace,
        prepare: async (o) => {
          o.headers = { ...o.headers, authorization: 'Bearer sa' };
        },
      });
    const backend = await KubernetesBackend.connect({ client: asServiceAccount('demo'), namespace: 'demo' });
    open.push(backend);
    expect(backend.inventory().services.map((s) => s.name)).toEqual(['reviews']);
    // What the Role does not grant is refused: deleting a VirtualService, reading Secrets.
    const vs = await asServiceAccount('demo')
      .delete(RESOURCES.VirtualService, 'reviews')
      .catch((e: unknown) => e);
    expect(vs).toMatchObject({ status: 403 });

    const elsewhere = await KubernetesBackend.connect({ client: asServiceAccount('other'), namespace: 'other' }).catch((e: unknown) => e);
    // Whichever LIST is refused first (Services, Deployments, Pods): the message says why and what to do.
    expect((elsewhere as Error).message).toMatch(
      /User "system:serviceaccount:demo:canary-mesh" cannot list resource "(services|deployments|pods)" in API group "(apps)?" in the namespace "other"\. The Role in deploy\/base grants access to the namespace it is applied in only: to manage namespace other, apply that Role there/,
    );
    // Without a valid token: 401.
    const anonymous = await new KubeClient({ server: api.url, namespace: 'demo' }).list(RESOURCES.Service).catch((e: unknown) => e);
    expect(anonymous).toMatchObject({ status: 401 });
  });
});

describe('traffic entering through an Istio ingress gateway (issue 17, item 7)', () => {
  it('binds the VirtualService to --gateway as well as to the mesh; without it, the mesh only', async () => {
    const { api, client } = await fake({}, [reviewsService('demo'), reviewsV1Deployment('demo')]);
    const bound = await KubernetesBackend.connect({
      client,
      namespace: 'demo',
      gateway: 'istio-system/bookinfo-gateway',
      gatewayHosts: ['bookinfo.example.com'],
    });
    open.push(bound);
    const reviews = stored(bound.inventory().services[0]!);
    await bound.traffic.sync(reviews, undefined);
    const vs = api.object('VirtualService', 'demo', 'reviews')!;
    validateObject(vs);
    expect(vs.spec).toMatchObject({ hosts: ['reviews', 'bookinfo.example.com'], gateways: ['istio-system/bookinfo-gateway', 'mesh'] });

    const meshOnly = new ClusterTraffic({ client, namespace: 'demo' });
    expect(meshOnly.render(reviews, undefined)[1]!.spec).not.toHaveProperty('gateways');
  });
});

describe('server-side apply merges keyed lists by key (issue 17, item 6)', () => {
  it('a port or a container someone else adds is theirs alone; ours stay ours and nothing is refused', async () => {
    const { api, client } = await fake({}, [reviewsService('demo'), reviewsV1Deployment('demo')]);
    const backend = await KubernetesBackend.connect({ client, namespace: 'demo', traffic: 'gateway-api' });
    open.push(backend);
    const reviews = stored(backend.inventory().services[0]!);
    await backend.traffic.sync(reviews, undefined);
    // A metrics operator adds its own port to the per-version Service (Service ports are keyed by port).
    const metricsPort = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'reviews-v1', namespace: 'demo' },
      spec: { ports: [{ name: 'metrics', port: 15020 }] },
    };
    await client.apply(metricsPort as KubeObject, { fieldManager: 'metrics-operator' });
    const ports = () => (api.object('Service', 'demo', 'reviews-v1') as KubeService).spec.ports.map((p) => p.port);
    expect(ports()).toEqual([9080, 15020]);
    const again = await backend.traffic.sync(reviews, undefined);
    expect(again.map((a) => `${a.action} ${a.object.kind}/${a.object.metadata.name}`)).toEqual([
      'unchanged Service/reviews-v1',
      'unchanged HTTPRoute/reviews',
    ]);
    expect(ports()).toEqual([9080, 15020]);

    // The same for a Deployment's containers (keyed by name): a log shipper added beside ours.
    const applier = new TrafficApplier(client);
    const copy = cloneDeployment(reviewsV1Deployment('demo'), { service: 'reviews', version: 'v2', namespace: 'demo' });
    await applier.apply([copy]);
    const sidecar = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'reviews-v2', namespace: 'demo' },
      spec: {
        selector: copy.spec.selector,
        template: {
          metadata: { labels: copy.spec.template.metadata!.labels },
          spec: { containers: [{ name: 'log-shipper', image: 'fluent-bit:3' }] },
        },
      },
    };
    await client.apply(sidecar as KubeObject, { fieldManager: 'log-operator' });
    const containers = (api.object('Deployment', 'demo', 'reviews-v2') as Deployment).spec.template.spec.containers.map((c) => c.name);
    expect(containers).toEqual(['reviews', 'log-shipper']);
    expect((await applier.plan([copy])).map((a) => a.action)).toEqual(['unchanged']);
  });
});
