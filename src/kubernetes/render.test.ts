import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { InputError, type Release, type Rule } from '../core/index.js';
import { renderHttpRoute } from './gateway-api.js';
import type { Deployment, KubeObject } from './kube-object.js';
import { cloneDeployment, renderFinishedTraffic, renderReleaseObjects, renderTrafficObjects, type TrafficServiceInput } from './render.js';
import { renderKubernetes } from './render-kubernetes.js';
import { reviewsService, reviewsV1Deployment } from '../../test/support/kubernetes/bookinfo-objects.js';
import { validateObject } from '../../test/support/kubernetes/validate-object.js';

const k8s = (image: string) => ({ kind: 'kubernetes' as const, image, env: {}, replicas: 1 });
const reviews: TrafficServiceInput = {
  name: 'reviews',
  port: 9080,
  versions: [
    { name: 'v1', labels: {}, workload: k8s('reviews-v1') },
    { name: 'v2', labels: {}, workload: k8s('reviews-v2') },
  ],
};
const release = (traffic: Release['traffic'], phase: Release['status']['phase'] = 'Progressing', governor: string | null = null) => ({
  name: 'reviews-canary',
  baseline: 'v1',
  candidate: { name: 'v2', workload: { image: 'kubesphere/examples-bookinfo-reviews-v2:1.16.2' } },
  traffic,
  status: { phase, governor, observed: {}, conditions: [], candidateCreated: true },
});
const problemsOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as InputError).message;
  }
  throw new Error('expected an InputError');
};

describe('validateObject', () => {
  it('rejects what the API server would reject, so the other tests mean something', () => {
    const d = reviewsV1Deployment();
    delete (d.spec as Partial<Deployment['spec']>).selector;
    expect(() => validateObject(d)).toThrow(/selector/);
    expect(() =>
      validateObject({
        apiVersion: 'networking.istio.io/v1beta1',
        kind: 'VirtualService',
        metadata: { name: 'x' },
        spec: { http: [{ route: [{ weight: 'half' }] }] },
      }),
    ).toThrow();
  });
});

describe('cloneDeployment: the candidate as KubeSphere makes it', () => {
  it('copies the baseline Deployment into reviews-v2 with the new image, version labels and merged env', () => {
    const clone = cloneDeployment(reviewsV1Deployment('demo'), {
      service: 'reviews',
      version: 'v2',
      namespace: 'demo',
      workload: { image: 'kubesphere/examples-bookinfo-reviews-v2:1.16.2', env: { SERVICE_VERSION: 'v2', LOG_DIR: '/var/log' } },
      release: 'reviews-canary',
    });
    validateObject(clone);
    expect(clone.metadata).toMatchObject({
      name: 'reviews-v2',
      namespace: 'demo',
      labels: { app: 'reviews', version: 'v2', 'app.kubernetes.io/managed-by': 'canary-mesh' },
    });
    expect(clone.spec.selector.matchLabels).toEqual({ app: 'reviews', version: 'v2' });
    expect(clone.spec.template.metadata?.labels).toEqual({ app: 'reviews', version: 'v2' });
    const c = clone.spec.template.spec.containers[0]!;
    expect(c.image).toBe('kubesphere/examples-bookinfo-reviews-v2:1.16.2');
    expect(c.env).toEqual([
      { name: 'LOG_DIR', value: '/var/log' },
      { name: 'SERVICE_VERSION', value: 'v2' },
    ]);
    // Everything else is the baseline's.
    expect(clone.spec.template.spec.serviceAccountName).toBe('bookinfo-reviews');
    expect(c.ports).toEqual([{ containerPort: 9080 }]);
  });

  it('refuses a baseline whose pods lack the version label, saying which field and why', () => {
    const d = reviewsV1Deployment();
    delete d.spec.template.metadata!.labels!.version;
    delete d.spec.selector.matchLabels!.version;
    const message = problemsOf(() => cloneDeployment(d, { service: 'reviews', version: 'v2', namespace: 'default' }));
    expect(message).toContain('Deployment default/reviews-v1: spec.template.metadata.labels.version: is missing');
    expect(message).toContain('app=<service> and version=<version>');
  });

  it('refuses a baseline whose selector would also select the copy’s pods', () => {
    const d = reviewsV1Deployment();
    d.spec.selector.matchLabels = { app: 'reviews' };
    expect(problemsOf(() => cloneDeployment(d, { service: 'reviews', version: 'v2', namespace: 'default' }))).toContain(
      'spec.selector.matchLabels.version: is missing',
    );
  });
});

describe('renderReleaseObjects', () => {
  it('renders the seed article’s 50/50 release: Deployment, DestinationRule, VirtualService, all schema-valid', () => {
    const service = { ...reviews, versions: [reviews.versions[0]!] };
    const out = renderReleaseObjects(
      { service, release: release({ weights: { v1: 50, v2: 50 } }), baselineDeployment: reviewsV1Deployment() },
      { namespace: 'default' },
    );
    expect(out.candidate?.metadata.name).toBe('reviews-v2');
    expect(out.traffic.map((o) => o.kind)).toEqual(['DestinationRule', 'VirtualService']);
    for (const o of [out.candidate!, ...out.traffic]) validateObject(o);
    const vs = out.traffic[1]!;
    expect(vs.spec).toEqual({
      hosts: ['reviews'],
      http: [
        {
          route: [
            { destination: { host: 'reviews', port: { number: 9080 }, subset: 'v1' }, weight: 50 },
            { destination: { host: 'reviews', port: { number: 9080 }, subset: 'v2' }, weight: 50 },
          ],
        },
      ],
    });
    expect((out.traffic[0]!.spec as { subsets: unknown }).subsets).toEqual([
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2' } },
    ]);
  });

  it('keeps every request on the baseline while Pending, and honours the governor', () => {
    const base = { service: reviews, baselineDeployment: reviewsV1Deployment() };
    const subsets = (objs: KubeObject[]) =>
      (objs[1]!.spec as { http: { route: { destination: { subset: string }; weight: number }[] }[] }).http.map((h) =>
        h.route.map((r) => `${r.destination.subset}:${r.weight}`),
      );
    expect(
      subsets(
        renderReleaseObjects({ ...base, release: release({ weights: { v1: 50, v2: 50 } }, 'Pending') }, { namespace: 'default' }).traffic,
      ),
    ).toEqual([['v1:100']]);
    expect(
      subsets(
        renderReleaseObjects({ ...base, release: release({ weights: { v1: 50, v2: 50 } }, 'TakenOver', 'v2') }, { namespace: 'default' })
          .traffic,
      ),
    ).toEqual([['v2:100']]);
    expect(
      renderReleaseObjects({ ...base, release: release({ weights: { v1: 50, v2: 50 } }) }, { namespace: 'default' }).candidate,
    ).toBeNull();
  });

  it('renders a finished release as one subset routed, the retired version gone', () => {
    const objs = renderFinishedTraffic(reviews, 'v2', 'v1', { namespace: 'default' });
    for (const o of objs) validateObject(o);
    expect((objs[0]!.spec as { subsets: { name: string }[] }).subsets.map((s) => s.name)).toEqual(['v2']);
    expect(JSON.stringify(objs[1]!.spec)).not.toContain('"v1"');
  });

  it('renders Gateway API: a Service per version and an HTTPRoute with weighted backendRefs, schema-valid', () => {
    const rules: Rule[] = [
      {
        match: [{ headers: { 'End-User': { exact: 'jason' } } }, { cookie: { user: { exact: 'jason' } } }],
        route: [{ version: 'v2', weight: 100 }],
      },
      {
        route: [
          { version: 'v1', weight: 90 },
          { version: 'v2', weight: 10 },
        ],
        mirror: { version: 'v2', percent: 5 },
      },
    ];
    const objs = renderTrafficObjects(reviews, rules, { namespace: 'default', traffic: 'gateway-api' });
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['Service/reviews-v1', 'Service/reviews-v2', 'HTTPRoute/reviews']);
    for (const o of objs) validateObject(o);
    expect(objs[0]!.spec).toMatchObject({ selector: { app: 'reviews', version: 'v1' }, ports: [{ port: 9080 }] });
    const route = objs[2]!.spec as { parentRefs: unknown; rules: { matches?: unknown[]; backendRefs: unknown[]; filters?: unknown[] }[] };
    expect(route.parentRefs).toEqual([{ group: '', kind: 'Service', name: 'reviews', port: 9080 }]);
    expect(route.rules[0]!.matches).toEqual([
      { headers: [{ name: 'end-user', type: 'Exact', value: 'jason' }] },
      { headers: [{ name: 'cookie', type: 'RegularExpression', value: '^(.*?;\\s*)?(user=jason)(;.*)?$' }] },
    ]);
    expect(route.rules[1]!.backendRefs).toEqual([
      { group: '', kind: 'Service', name: 'reviews-v1', port: 9080, weight: 90 },
      { group: '', kind: 'Service', name: 'reviews-v2', port: 9080, weight: 10 },
    ]);
    expect(route.rules[1]!.filters).toEqual([
      { type: 'RequestMirror', requestMirror: { backendRef: { group: '', kind: 'Service', name: 'reviews-v2', port: 9080 }, percent: 5 } },
    ]);
  });

  it('attaches the HTTPRoute to a Gateway when given one', () => {
    const route = renderHttpRoute(reviews, [], { gateway: { name: 'bookinfo-gateway', namespace: 'istio-ingress' } });
    validateObject(route);
    expect(route.spec.parentRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'bookinfo-gateway', namespace: 'istio-ingress' },
    ]);
  });
});

describe('Gateway API precedence check', () => {
  const to = (version: string): Rule['route'] => [{ version, weight: 100 }];

  it('refuses a header rule placed after a path rule that Gateway API would put first, naming both', () => {
    // Istio sends /api/v2/x to v1 (first rule); Gateway API would send it to v2 (longer prefix).
    const rules: Rule[] = [
      { match: [{ uri: { prefix: '/api/' } }], route: to('v1') },
      { match: [{ uri: { prefix: '/api/v2/' } }], route: to('v2') },
    ];
    const message = problemsOf(() => renderHttpRoute(reviews, rules));
    expect(message).toContain('rules.1.match.0: comes after rules.0.match.0 here');
    expect(message).toContain('a longer path prefix wins');
    expect(message).toContain('--traffic istio');
  });

  it('refuses a catch-all followed by a more specific rule, and a header match after a plain one', () => {
    expect(
      problemsOf(() =>
        renderHttpRoute(reviews, [{ route: to('v1') }, { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: to('v2') }]),
      ),
    ).toContain('more header matches win');
    expect(
      problemsOf(() =>
        renderHttpRoute(reviews, [
          { match: [{ uri: { prefix: '/' } }], route: to('v1') },
          { match: [{ uri: { exact: '/x' } }], route: to('v2') },
        ]),
      ),
    ).toContain('an exact path match beats a path prefix');
  });

  it('accepts orders Gateway API keeps, disjoint matches and same-destination rules', () => {
    // The usual canary: specific match first, the rest by weight.
    expect(() =>
      renderHttpRoute(reviews, [
        { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: to('v2') },
        {
          route: [
            { version: 'v1', weight: 50 },
            { version: 'v2', weight: 50 },
          ],
        },
      ]),
    ).not.toThrow();
    // Two exact paths never match one request, whatever their order.
    expect(() =>
      renderHttpRoute(reviews, [
        { match: [{ uri: { exact: '/a' } }], route: to('v1') },
        { match: [{ uri: { exact: '/b' }, method: { exact: 'GET' } }], route: to('v2') },
      ]),
    ).not.toThrow();
    expect(() => renderHttpRoute(reviews, [{ route: to('v1') }, { match: [{ uri: { exact: '/x' } }], route: to('v1') }])).not.toThrow();
  });

  it('refuses what Gateway API cannot say with the same meaning: a string path prefix, a method regex', () => {
    const message = problemsOf(() =>
      renderHttpRoute(reviews, [
        { match: [{ uri: { prefix: '/api' }, method: { regex: 'GET|HEAD' } }], route: to('v2') },
        { route: to('v1') },
      ]),
    );
    expect(message).toContain('rules.0.match.0.uri.prefix: "/api" is a string prefix here');
    expect(message).toContain('rules.0.match.0.method: Gateway API matches one exact method');
  });
});

describe('renderKubernetes: `canary render --kubernetes RELEASE.yaml`', () => {
  const dir = mkdtempSync(join(tmpdir(), 'canary-render-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints every object the release applies, from the release and the cluster manifests in the file', async () => {
    const file = join(dir, 'release.yaml');
    const releaseDoc = {
      name: 'reviews-canary',
      service: 'reviews',
      candidate: { name: 'v2', workload: { image: 'kubesphere/examples-bookinfo-reviews-v2:1.16.2' } },
      traffic: { weights: { v1: 50, v2: 50 } },
    };
    writeFileSync(file, [releaseDoc, reviewsService('demo'), reviewsV1Deployment('demo')].map((d) => stringify(d)).join('---\n'));
    const text = await renderKubernetes(file, { namespace: 'demo' });
    const docs = parseAllDocuments(text).map((d) => d.toJS() as KubeObject);
    expect(docs.map((d) => `${d.kind}/${d.metadata.namespace}/${d.metadata.name}`)).toEqual([
      'Deployment/demo/reviews-v2',
      'DestinationRule/demo/reviews',
      'VirtualService/demo/reviews',
    ]);
    for (const d of docs) validateObject(d);
    expect((docs[0] as Deployment).spec.template.spec.containers[0]!.image).toBe('kubesphere/examples-bookinfo-reviews-v2:1.16.2');
    expect(text).toContain('      weight: 50');
  });

  it('renders from the service in the API shape, and Gateway API on request', async () => {
    const file = join(dir, 'api-shape.yaml');
    writeFileSync(
      file,
      stringify({ name: 'reviews', port: 9080, versions: [{ name: 'v1', workload: { kind: 'kubernetes', image: 'reviews:v1' } }] }) +
        '---\n' +
        stringify({
          name: 'r',
          service: 'reviews',
          candidate: { name: 'v2', workload: { env: { SERVICE_VERSION: 'v2' } } },
          traffic: { weights: { v1: 80, v2: 20 } },
        }),
    );
    const docs = parseAllDocuments(await renderKubernetes(file, { traffic: 'gateway-api' })).map((d) => d.toJS() as KubeObject);
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
      'Deployment/reviews-v2',
      'Service/reviews-v1',
      'Service/reviews-v2',
      'HTTPRoute/reviews',
    ]);
    for (const d of docs) validateObject(d);
    const c = (docs[0] as Deployment).spec.template.spec.containers[0]!;
    expect([c.image, c.env]).toEqual(['reviews:v1', [{ name: 'SERVICE_VERSION', value: 'v2' }]]);
  });

  it('says what is missing when the file has no baseline to copy', async () => {
    const file = join(dir, 'alone.yaml');
    writeFileSync(file, stringify({ name: 'r', service: 'reviews', candidate: { name: 'v2' }, traffic: { weights: { v1: 100 } } }));
    await expect(renderKubernetes(file)).rejects.toThrow(
      'service: "reviews" is not in the file; add its Service and baseline Deployment manifests',
    );
  });
});
