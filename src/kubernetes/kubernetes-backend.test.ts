import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { ClusterInventory } from './cluster-inventory.js';
import { KubernetesBackend } from './kubernetes-backend.js';
import { reviewsService, reviewsV1Deployment } from '../../test/support/kubernetes/bookinfo-objects.js';
import { FakeApiServer } from '../../test/support/kubernetes/fake-api-server.js';

const dir = mkdtempSync(join(tmpdir(), 'canary-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

function kubeconfig(server: string): string {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}`);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'kind-canary', cluster: { server } }],
      users: [{ name: 'dev', user: { token: 'dev-token' } }],
      contexts: [{ name: 'kind-canary', context: { cluster: 'kind-canary', user: 'dev', namespace: 'demo' } }],
      'current-context': 'kind-canary',
    }),
  );
  return file;
}

describe('KubernetesBackend: `canary up --kubernetes --kubeconfig FILE --context C`', () => {
  it('connects with the kubeconfig’s credentials and reads services and versions, kept current by watches', async () => {
    const api = new FakeApiServer();
    open.push(api);
    await api.start();
    api.seed(reviewsService('demo'));
    api.seed(reviewsV1Deployment('demo'));
    const backend = await KubernetesBackend.connect({ kubeconfig: kubeconfig(api.url), context: 'kind-canary' });
    open.push(backend);
    expect(backend.namespace).toBe('demo');
    expect(api.requests.every((r) => r.authorization === 'Bearer dev-token')).toBe(true);
    expect(backend.inventory().services.map((s) => [s.name, s.port, s.versions.map((v) => v.name)])).toEqual([['reviews', 9080, ['v1']]]);

    const seen: ClusterInventory[] = [];
    backend.onInventoryChange((inv) => seen.push(inv));
    const v3 = reviewsV1Deployment('demo');
    v3.metadata.name = 'reviews-v3';
    v3.spec.selector.matchLabels = { app: 'reviews', version: 'v3' };
    v3.spec.template.metadata!.labels = { app: 'reviews', version: 'v3' };
    api.seed(v3);
    const until = Date.now() + 5000;
    while (!seen.some((inv) => inv.services[0]?.versions.length === 2) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(backend.inventory().services[0]!.versions.map((v) => v.name)).toEqual(['v1', 'v3']);
  });

  it('says what is wrong with the context or the cluster', async () => {
    const api = new FakeApiServer();
    open.push(api);
    await api.start();
    await expect(KubernetesBackend.connect({ kubeconfig: kubeconfig(api.url), context: 'prod' })).rejects.toThrow(
      '--context prod: no such context in the kubeconfig (have: kind-canary)',
    );
    await expect(KubernetesBackend.connect({ kubeconfig: kubeconfig('http://127.0.0.1:9') })).rejects.toThrow(
      'cannot read namespace demo on http://127.0.0.1:9',
    );
  });
});
