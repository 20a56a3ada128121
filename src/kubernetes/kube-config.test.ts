import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadKubeConnection } from './kube-config.js';

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
