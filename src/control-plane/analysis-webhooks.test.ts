import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockedAddress, callWebhook, type WebhookPayload } from './analysis-webhooks.js';

const payload: WebhookPayload = {
  type: 'preRollout',
  event: 'release.pre-rollout',
  release: 'reviews-canary',
  service: 'reviews',
  baseline: 'v1',
  candidate: 'v2',
  phase: 'Progressing',
  step: 0,
  weight: 0,
  verdict: null,
  message: 'about to move traffic',
  at: new Date(0).toISOString(),
};

describe('analysis webhooks', () => {
  let server: Server;
  let base: string;
  const seen: { path: string; body: unknown; headers: IncomingMessage['headers'] }[] = [];
  let flaky = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        seen.push({ path: req.url!, body: JSON.parse(text), headers: req.headers });
        if (req.url === '/ok') {
          res.writeHead(200).end('fine');
          return;
        }
        if (req.url === '/no') {
          res.writeHead(403).end('secret body that must not be shown');
          return;
        }
        if (req.url === '/flaky') {
          res.writeHead(flaky++ < 2 ? 503 : 204).end();
          return;
        }
        if (req.url === '/redirect') {
          res.writeHead(302, { location: '/ok' }).end();
          return;
        }
        if (req.url === '/slow') {
          setTimeout(() => res.writeHead(200).end(), 2000);
          return;
        }
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const hook = (path: string, extra: Partial<{ timeoutMs: number; retries: number }> = {}) => ({
    on: 'preRollout' as const,
    name: 'gate',
    url: `${base}${path}`,
    timeoutMs: 1000,
    retries: 2,
    ...extra,
  });

  it('POSTs the JSON payload and takes a 2xx as success', async () => {
    const r = await callWebhook(hook('/ok'), payload, { backoffMs: 10 });
    expect(r).toEqual({ ok: true, status: 200, attempts: 1, error: null });
    const got = seen.find((s) => s.path === '/ok')!;
    expect(got.body).toEqual(payload);
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers.authorization).toBeUndefined();
  });

  it('retries a 5xx and succeeds when the hook recovers; a refusal is not retried and its body is not shown', async () => {
    expect(await callWebhook(hook('/flaky'), payload, { backoffMs: 10 })).toMatchObject({ ok: true, status: 204, attempts: 3 });
    const no = await callWebhook(hook('/no'), payload, { backoffMs: 10 });
    expect(no).toEqual({ ok: false, status: 403, attempts: 1, error: 'answered 403' });
  });

  it('does not follow a redirect', async () => {
    const before = seen.filter((s) => s.path === '/ok').length;
    expect(await callWebhook(hook('/redirect'), payload, { backoffMs: 10 })).toMatchObject({ ok: false, status: 302 });
    expect(seen.filter((s) => s.path === '/ok').length).toBe(before);
  });

  it('gives up after the timeout, once per attempt', async () => {
    const t0 = Date.now();
    const r = await callWebhook(hook('/slow', { timeoutMs: 200, retries: 1 }), payload, { backoffMs: 10 });
    expect(r).toMatchObject({ ok: false, status: null, attempts: 2 });
    expect(r.error).toContain('no answer within 200 ms');
    expect(Date.now() - t0).toBeLessThan(1900);
  });

  it('refuses link-local and unspecified addresses (cloud metadata), by literal and by name', async () => {
    expect(blockedAddress('169.254.169.254')).toContain('link-local');
    expect(blockedAddress('::ffff:169.254.169.254')).toContain('link-local');
    expect(blockedAddress('fe80::1')).toContain('link-local');
    expect(blockedAddress('0.0.0.0')).toContain('unspecified');
    expect(blockedAddress('127.0.0.1')).toBeNull();
    const r = await callWebhook({ ...hook('/'), url: 'http://169.254.169.254/latest/meta-data/' }, payload, { backoffMs: 10 });
    expect(r).toMatchObject({ ok: false, status: null, attempts: 1 });
    expect(r.error).toContain('link-local');
  });
});
