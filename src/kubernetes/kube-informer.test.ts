import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeClient } from './kube-client.js';
import { KubeInformer } from './kube-informer.js';
import { type KubeService, RESOURCES } from './kube-object.js';
import { FakeApiServer } from '../../test/support/kubernetes/fake-api-server.js';
import { TcpRelay } from '../../test/support/tcp-relay.js';
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
    // While away (in the same tick, so no watch comes back meanwhile): one Service goes, one comes, and the
    // server compacts its history.
    api.remove('Service', 'demo', 'ratings');
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

describe('KubeInformer on a real-world API server (issue 17)', () => {
  it('notices a watch connection that stops carrying data without closing, and resumes through a new one', async () => {
    const relay = new TcpRelay({ host: '127.0.0.1', port: Number(new URL(api.url).port) });
    const through = new KubeClient({ server: await relay.start(), namespace: 'demo', watchIdleMs: 400, timeoutMs: 1000 });
    const watched = new KubeInformer<KubeService>(through, RESOURCES.Service, { namespace: 'demo', backoffMs: 20 });
    try {
      api.seed(svc('reviews'));
      await watched.start();
      await waitFor('the watch', () => api.openWatches() === 1);
      relay.stall(); // a load balancer that keeps the connection open but forwards nothing any more
      api.seed(svc('ratings'));
      await waitFor('the Service created after the connection went silent', () => watched.get('ratings') !== undefined, 8000);
      expect(watched.stats.lists).toBe(1); // resumed from its resourceVersion, not re-listed
      const watches = api.requests.filter((r) => r.query.watch === 'true');
      expect(watches.length).toBeGreaterThanOrEqual(2);
      // Every watch asks the server to end it after 5..10 minutes, as client-go's reflector does.
      for (const w of watches) {
        expect(Number(w.query.timeoutSeconds)).toBeGreaterThanOrEqual(300);
        expect(Number(w.query.timeoutSeconds)).toBeLessThan(600);
      }
    } finally {
      await watched.stop();
      await relay.close();
    }
  });

  it('resumes, without a re-list, each watch the server ends after its timeoutSeconds', async () => {
    const short = new KubeClient({ server: api.url, namespace: 'demo', watchTimeoutSeconds: () => 1 });
    const watched = new KubeInformer<KubeService>(short, RESOURCES.Service, { namespace: 'demo', backoffMs: 20 });
    try {
      await watched.start();
      await waitFor('the server ending two watches', () => watched.stats.watches >= 3, 8000);
      api.seed(svc('ratings'));
      await waitFor('a change after the timeouts', () => watched.get('ratings') !== undefined);
      expect(watched.stats.lists).toBe(1);
    } finally {
      await watched.stop();
    }
  });

  it('keeps its resourceVersion current from BOOKMARKs, so a watch resumed after compaction needs no re-list', async () => {
    await api.close();
    api = new FakeApiServer({ bookmarkIntervalMs: 50 });
    client = new KubeClient({ server: await api.start(), namespace: 'demo' });
    informer = new KubeInformer<KubeService>(client, RESOURCES.Service, { namespace: 'demo', backoffMs: 20 });
    api.seed(svc('reviews'));
    await informer.start();
    // Much happens elsewhere (another namespace): this watch sees none of it, only bookmarks.
    for (let i = 0; i < 20; i++) api.seed({ ...svc(`other-${i}`), metadata: { name: `other-${i}`, namespace: 'elsewhere' } });
    await new Promise((r) => setTimeout(r, 300));
    api.dropWatches();
    api.compact();
    api.seed(svc('ratings'));
    await waitFor('the Service created after compaction', () => names() === 'ratings,reviews');
    expect(informer.stats.lists).toBe(1);
  });

  it('re-lists after a failover to an API server whose watch cache is behind ("Too large resource version")', async () => {
    api.seed(svc('reviews'));
    await informer.start();
    await waitFor('the watch', () => api.openWatches() === 1);
    api.seed(svc('ratings'));
    await waitFor('the second Service', () => names() === 'ratings,reviews');
    api.failoverToLaggingServer();
    api.seed(svc('details'));
    await waitFor('the Service created after the failover', () => names() === 'details,ratings,reviews', 8000);
    expect(informer.stats.lists).toBe(2);
  });

  it('re-lists in pages (limit/continue) and diffs by uid: an object replaced under the same name is deleted, then added', async () => {
    const paged = new KubeClient({ server: api.url, namespace: 'demo', listPageSize: 10 });
    const watched = new KubeInformer<KubeService>(paged, RESOURCES.Service, { namespace: 'demo', backoffMs: 20 });
    const events: string[] = [];
    watched.onChange((type, o) => events.push(`${type} ${o.metadata.name} ${o.metadata.uid}`));
    try {
      for (let i = 0; i < 25; i++) api.seed(svc(`s${String(i).padStart(2, '0')}`));
      const oldUid = api.seed(svc('reviews')).metadata.uid;
      await watched.start();
      expect(watched.items()).toHaveLength(26);
      const lists = api.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/services') && r.query.watch === undefined);
      expect(lists.map((r) => r.query.limit)).toEqual(['10', '10', '10']);
      expect(lists.slice(1).every((r) => r.query.continue)).toBe(true);
      await waitFor('the watch', () => api.openWatches() === 1);
      api.dropWatches();
      // While away: reviews is deleted and created again (kubectl delete + apply), then history is compacted.
      api.remove('Service', 'demo', 'reviews');
      const newUid = api.seed(svc('reviews')).metadata.uid;
      api.compact();
      await waitFor('the new reviews', () => watched.get('reviews')?.metadata.uid === newUid);
      expect(events.filter((e) => e.includes(' reviews '))).toEqual([
        `ADDED reviews ${oldUid}`,
        `DELETED reviews ${oldUid}`,
        `ADDED reviews ${newUid}`,
      ]);
    } finally {
      await watched.stop();
    }
  });

  it('backs off with jitter: the delays between failed watches are stretched by a random factor', async () => {
    await api.close();
    // The user may list Services but not watch them: every watch is refused (403), so the informer backs off.
    api = new FakeApiServer({
      tokens: { t: { user: 'reader' } },
      rbac: [
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'Role',
          metadata: { name: 'r', namespace: 'demo' },
          rules: [{ apiGroups: [''], resources: ['services'], verbs: ['list'] }],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'r', namespace: 'demo' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'r' },
          subjects: [{ kind: 'User', name: 'reader' }],
        },
      ],
    });
    const url = await api.start();
    client = new KubeClient({
      server: url,
      namespace: 'demo',
      prepare: async (o) => {
        o.headers = { ...o.headers, authorization: 'Bearer t' };
      },
    });
    informer = new KubeInformer<KubeService>(client, RESOURCES.Service, { namespace: 'demo', backoffMs: 100, random: () => 0.99 });
    await informer.start();
    await waitFor('four refused watches', () => api.requests.filter((r) => r.query.watch === 'true').length >= 4, 8000);
    expect(informer.stats.lastError).toContain('cannot watch resource "services"');
    const at = api.requests.filter((r) => r.query.watch === 'true').map((r) => r.at);
    const gaps = at.slice(1, 4).map((t, i) => t - at[i]!);
    // Nominal 100 + 200 + 400 ms; with the random factor at its top (x1.99) at least 1.9x that.
    expect(gaps.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1.9 * 700);
  });
});
