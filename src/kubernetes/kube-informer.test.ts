import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeClient } from './kube-client.js';
import { KubeInformer } from './kube-informer.js';
import { type KubeService, RESOURCES } from './kube-object.js';
import { FakeApiServer } from '../../test/support/kubernetes/fake-api-server.js';
import { waitFor } from '../../test/support/wait-for.js';

const svc = (name: string, port = 80): KubeService => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'demo', labels: { app: name } },
  spec: { ports: [{ port }] },
});

let api: FakeApiServer;
let client: KubeClient;
let informer: KubeInformer<KubeService>;

beforeEach(async () => {
  api = new FakeApiServer();
  client = new KubeClient({ server: await api.start(), namespace: 'demo' });
  informer = new KubeInformer<KubeService>(client, RESOURCES.Service, { namespace: 'demo', backoffMs: 20 });
});
afterEach(async () => {
  await informer.stop();
  await api.close();
});

const names = () =>
  informer
    .items()
    .map((s) => s.metadata.name)
    .sort()
    .join(',');

describe('KubeInformer: list, then watch', () => {
  it('sees objects that exist and follows changes as they happen', async () => {
    api.seed(svc('reviews'));
    await informer.start();
    expect(names()).toBe('reviews');
    api.seed(svc('ratings'));
    await waitFor('the new Service', () => names() === 'ratings,reviews');
    await client.delete(RESOURCES.Service, 'reviews');
    await waitFor('the deletion', () => names() === 'ratings');
    expect(informer.stats.lists).toBe(1);
  });

  it('resumes a lost watch from the last resourceVersion without missing what changed meanwhile', async () => {
    api.seed(svc('reviews'));
    await informer.start();
    await waitFor('the watch', () => api.openWatches() === 1);
    api.dropWatches();
    api.seed(svc('details')); // happens while no watch is open
    await waitFor('the Service created while the watch was down', () => names() === 'details,reviews');
    expect(informer.stats.lists).toBe(1); // resumed, not re-listed
    expect(informer.stats.watches).toBeGreaterThanOrEqual(2);
    const resumed = api.requests.filter((r) => r.query.watch === 'true').at(-1)!;
    expect(Number(resumed.query.resourceVersion)).toBeGreaterThan(0);
  });

  it('re-lists when the history it would resume from is gone (410 Expired), seeing adds and deletes', async () => {
    api.seed(svc('reviews'));
    api.seed(svc('ratings'));
    await informer.start();
    await waitFor('the watch', () => api.openWatches() === 1);
    api.dropWatches();
    // While away: one Service goes, one comes, and the server compacts its history.
    await fetch(`${api.url}/api/v1/namespaces/demo/services/ratings`, { method: 'DELETE' });
    api.seed(svc('details'));
    api.compact();
    await waitFor('the re-list', () => names() === 'details,reviews');
    expect(informer.stats.lists).toBe(2);
  });

  it('reports a first LIST that fails, e.g. no API server', async () => {
    const nowhere = new KubeInformer(new KubeClient({ server: 'http://127.0.0.1:9', timeoutMs: 2000 }), RESOURCES.Service);
    await expect(nowhere.start()).rejects.toThrow('http://127.0.0.1:9/api/v1/namespaces/default/services');
    await nowhere.stop();
  });
});
