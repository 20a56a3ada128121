import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { KubeClient } from './kube-client.js';
import { loadKubeConnection } from './kube-config.js';
import { RESOURCES } from './kube-object.js';
import { FakeApiServer } from '../../test/support/kubernetes/fake-api-server.js';

const dir = mkdtempSync(join(tmpdir(), 'canary-kubecfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, users: unknown[], extra: Record<string, unknown> = {}): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://10.0.0.1:6443', 'certificate-authority': 'ca.pem' } }],
      users,
      contexts: users.map((u) => ({ name: (u as { name: string }).name, context: { cluster: 'c', user: (u as { name: string }).name } })),
      ...extra,
    }),
  );
  return file;
}

const prepared = async (file: string, context?: string) => {
  const conn = loadKubeConnection({ kubeconfig: file, ...(context ? { context } : {}) });
  const opts: RequestOptions = {};
  await conn.prepare(opts);
  return { conn, opts, auth: (opts.headers as Record<string, string> | undefined)?.authorization };
};

describe('loadKubeConnection: kubeconfig as kubectl reads it', () => {
  writeFileSync(join(dir, 'ca.pem'), 'CA');
  writeFileSync(join(dir, 'token.txt'), 'from-file\n');

  it('reads a relative CA file, the context namespace, a client certificate and a token file', async () => {
    const file = write('a.yaml', [
      {
        name: 'certs',
        user: {
          'client-certificate-data': Buffer.from('CERT').toString('base64'),
          'client-key-data': Buffer.from('KEY').toString('base64'),
        },
      },
      { name: 'tokenfile', user: { tokenFile: 'token.txt' } },
    ]);
    const certs = await prepared(file, 'certs');
    expect(certs.conn.server).toBe('https://10.0.0.1:6443');
    expect(certs.conn.namespace).toBe('default');
    expect([String(certs.opts.ca), String(certs.opts.cert), String(certs.opts.key), certs.auth]).toEqual(['CA', 'CERT', 'KEY', undefined]);
    expect((await prepared(file, 'tokenfile')).auth).toBe('Bearer from-file');
  });

  it('runs an exec credential plugin once and reuses its token until it expires', async () => {
    const counter = join(dir, 'calls');
    const plugin = join(dir, 'plugin.mjs');
    writeFileSync(
      plugin,
      `import { appendFileSync } from 'node:fs';
appendFileSync(${JSON.stringify(counter)}, 'x');
const expirationTimestamp = new Date(Date.now() + 3600_000).toISOString();
console.log(JSON.stringify({ kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1', status: { token: 'exec-' + process.env.TEAM, expirationTimestamp } }));`,
    );
    const file = write(
      'b.yaml',
      [
        {
          name: 'eks',
          user: {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: process.execPath,
              args: [plugin],
              env: [{ name: 'TEAM', value: 'blue' }],
            },
          },
        },
      ],
      {
        'current-context': 'eks',
      },
    );
    const conn = loadKubeConnection({ kubeconfig: file });
    for (let i = 0; i < 3; i++) {
      const opts: RequestOptions = {};
      await conn.prepare(opts);
      expect((opts.headers as Record<string, string>).authorization).toBe('Bearer exec-blue');
    }
    expect(readFileSync(counter, 'utf8')).toBe('x');
  });

  it('says what is missing', () => {
    expect(() => loadKubeConnection({ kubeconfig: join(dir, 'none.yaml') })).toThrow(
      `--kubeconfig ${join(dir, 'none.yaml')}: no such file`,
    );
    const file = write('c.yaml', [{ name: 'u', user: { token: 't' } }]);
    expect(() => loadKubeConnection({ kubeconfig: file })).toThrow('the kubeconfig has no current context; give --context (have: u)');
  });
});

describe('exec credential plugins against an API server that checks tokens (issue 17)', () => {
  it('runs the plugin once for concurrent first requests, passes KUBERNETES_EXEC_INFO, and runs it again after a 401', async () => {
    // The plugin hands out tok-1, tok-2, ... without expirationTimestamp, counting its runs and keeping its input.
    const plugin = join(dir, 'counting-plugin.mjs');
    const runs = join(dir, 'runs.txt');
    writeFileSync(runs, '');
    writeFileSync(
      plugin,
      `import { appendFileSync, readFileSync } from 'node:fs';
await new Promise((r) => setTimeout(r, 150)); // a plugin takes its time (aws eks get-token: ~1 s)
appendFileSync(${JSON.stringify(runs)}, (process.env.KUBERNETES_EXEC_INFO ?? 'none') + '\\n');
const n = readFileSync(${JSON.stringify(runs)}, 'utf8').trim().split('\\n').length;
console.log(JSON.stringify({ kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1', status: { token: 'tok-' + n } }));`,
    );
    const api = new FakeApiServer({ tokens: { 'tok-1': { user: 'dev', groups: ['system:masters'] } } });
    const server = await api.start();
    const file = join(dir, 'exec-kubeconfig');
    writeFileSync(
      file,
      stringify({
        clusters: [{ name: 'c', cluster: { server } }],
        users: [
          {
            name: 'u',
            user: {
              exec: { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: [plugin], provideClusterInfo: true },
            },
          },
        ],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: 'demo' } }],
        'current-context': 'x',
      }),
    );
    try {
      const client = await KubeClient.fromKubeConfig({ kubeconfig: file });
      const runCount = () => readFileSync(runs, 'utf8').trim().split('\n').filter(Boolean).length;
      await Promise.all(Array.from({ length: 8 }, () => client.list(RESOURCES.Service)));
      expect(runCount()).toBe(1);
      const info = JSON.parse(readFileSync(runs, 'utf8').split('\n')[0]!);
      expect(info).toMatchObject({
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        spec: { interactive: false, cluster: { server } },
      });
      // The token is revoked (it expired on the server's side; the plugin gave no expirationTimestamp).
      api.revokeToken('tok-1');
      api.setToken('tok-2', { user: 'dev', groups: ['system:masters'] });
      await expect(client.list(RESOURCES.Service)).resolves.toMatchObject({ items: [] });
      expect(runCount()).toBe(2);
      const auth = api.requests.map((r) => r.authorization);
      expect(auth.slice(-2)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
      // A credential the server keeps refusing is reported, not retried forever.
      api.revokeToken('tok-2');
      await expect(client.list(RESOURCES.Service)).rejects.toMatchObject({ status: 401 });
      expect(runCount()).toBe(3);
    } finally {
      await api.close();
    }
  });
});
