import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../kubernetes/kube-object.js';
import { runCanary as canary } from '../../test/support/cli-runner.js';
import { ensureBuilt } from '../../test/support/dist.js';
import { validateObject } from '../../test/support/kubernetes/validate-object.js';

beforeAll(() => ensureBuilt());

/** `canary render ARGS` succeeded: the objects it printed. */
async function rendered(args: string[]): Promise<KubeObject[]> {
  const r = await canary(['render', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as KubeObject);
}

/** What a canary or blue-green release makes: the candidate's Deployment, then the service's routing. */
const releaseObjects = ['Deployment/reviews-v2', 'DestinationRule/reviews', 'VirtualService/reviews'];

describe('canary render --kubernetes', () => {
  it('prints the candidate Deployment, DestinationRule and VirtualService of the example, all valid', async () => {
    const objects = await rendered(['--kubernetes', 'examples/reviews-canary-k8s.yaml', '--namespace', 'demo']);
    expect(objects.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual(releaseObjects);
    for (const o of objects) {
      expect(o.metadata?.namespace).toBe('demo');
      validateObject(o);
    }
    const deployment = objects[0] as unknown as {
      spec: { template: { metadata: { labels: Record<string, string> }; spec: { containers: { image: string }[] } } };
    };
    expect(deployment.spec.template.metadata.labels.version).toBe('v2');
    expect(deployment.spec.template.spec.containers[0]!.image).toBe('docker.io/kubesphere/examples-bookinfo-reviews-v2:1.16.2');
    const vs = objects[2] as unknown as {
      spec: { http: { match?: unknown; route: { destination: { subset: string }; weight: number }[] }[] };
    };
    // First the preview route (`x-canary-preview: v2` reaches v2), then the split.
    expect(vs.spec.http[0]!.match).toEqual([{ headers: { 'x-canary-preview': { exact: 'v2' } } }]);
    expect(vs.spec.http[1]!.route.map((d) => [d.destination.subset, d.weight])).toEqual([
      ['v1', 50],
      ['v2', 50],
    ]);
  });

  it('renders Gateway API objects on request, and refuses a wrong mode with a clear message', async () => {
    const kinds = (await rendered(['--kubernetes', 'examples/reviews-canary-k8s.yaml', '--traffic', 'gateway-api'])).map((o) => o.kind);
    expect(kinds).toContain('HTTPRoute');
    const bad = await canary(['render', '--kubernetes', 'examples/reviews-canary-k8s.yaml', '--traffic', 'nginx']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('Error: --traffic: must be "istio" or "gateway-api", got "nginx"\n');
  });

  it('renders a blue-green release: the preview route first, every ordinary request to v1; and its HTTPRoute', async () => {
    const objects = await rendered(['--kubernetes', 'examples/reviews-blue-green-k8s.yaml', '--namespace', 'demo']);
    expect(objects.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual(releaseObjects);
    for (const o of objects) validateObject(o);
    const http = (
      objects[2] as unknown as { spec: { http: { match?: unknown; route: { destination: { subset: string }; weight: number }[] }[] } }
    ).spec.http;
    expect(http.map((h) => [h.match ?? null, h.route.map((d) => `${d.destination.subset}:${d.weight}`).join(' ')])).toEqual([
      [[{ headers: { 'x-canary-preview': { exact: 'v2' } } }], 'v2:100'],
      [null, 'v1:100'],
    ]);
    const route = (await rendered(['--kubernetes', 'examples/reviews-blue-green-k8s.yaml', '--traffic', 'gateway-api'])).find(
      (o) => o.kind === 'HTTPRoute',
    ) as unknown as {
      spec: { rules: { matches?: unknown; backendRefs: { name: string; weight: number }[] }[] };
    };
    validateObject(route as unknown as KubeObject);
    expect(route.spec.rules.map((x) => [x.matches ?? null, x.backendRefs.map((b) => `${b.name}:${b.weight}`).join(' ')])).toEqual([
      [[{ headers: [{ type: 'Exact', name: 'x-canary-preview', value: 'v2' }] }], 'reviews-v2:100'],
      [null, 'reviews-v1:100'],
    ]);
  });

  it('renders a mirroring release: v1 answers, 20% mirrored to v2 (Istio mirror + mirrorPercentage, Gateway API RequestMirror)', async () => {
    const objects = await rendered(['--kubernetes', 'examples/reviews-mirror-k8s.yaml']);
    for (const o of objects) validateObject(o);
    const vs = objects.find((o) => o.kind === 'VirtualService') as unknown as { spec: { http: Record<string, unknown>[] } };
    expect(vs.spec.http[1]).toEqual({
      route: [{ destination: { host: 'reviews', port: { number: 9080 }, subset: 'v1' }, weight: 100 }],
      mirror: { host: 'reviews', port: { number: 9080 }, subset: 'v2' },
      mirrorPercentage: { value: 20 },
    });
    const route = (await rendered(['--kubernetes', 'examples/reviews-mirror-k8s.yaml', '--traffic', 'gateway-api'])).find(
      (o) => o.kind === 'HTTPRoute',
    ) as unknown as { spec: { rules: { filters?: unknown[] }[] } };
    expect(route.spec.rules[1]!.filters).toEqual([
      { type: 'RequestMirror', requestMirror: { backendRef: { group: '', kind: 'Service', name: 'reviews-v2', port: 9080 }, percent: 20 } },
    ]);
  });
});
