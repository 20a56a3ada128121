import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { AnalysisPlan, WebhookKind } from '../core/analysis/index.js';

/**
 * The analysis webhooks: a JSON POST per event to the URLs the release names, with a timeout and retries.
 * Webhook URLs are written by whoever may set a release's analysis webhooks (admins, see permissions.ts), never
 * by the public; still, the control plane never follows a redirect, never sends a credential, never shows the
 * answer's body, and refuses link-local and unspecified addresses (cloud metadata endpoints live there), checked
 * on the address it actually connects to so a DNS name cannot be re-pointed between the check and the call.
 */

export type Webhook = AnalysisPlan['webhooks'][number];

export interface WebhookPayload {
  /** `preRollout`, `confirmPromotion`, `rollback` or `event`. */
  type: WebhookKind;
  /** What happened, for `event`: `release.step`, `release.analysis`, `release.promoted`, `release.rolled-back`, ... */
  event: string;
  release: string;
  service: string;
  baseline: string;
  candidate: string;
  phase: string;
  step: number;
  weight: number;
  verdict: string | null;
  message: string;
  at: string;
}

export interface WebhookOutcome {
  ok: boolean;
  /** The last answer's status; null when none came. */
  status: number | null;
  attempts: number;
  /** Why it failed, in words (status, timeout, refused address). */
  error: string | null;
}

const BODY_LIMIT = 64 * 1024;

/** Addresses a webhook may not reach: link-local (169.254/16 holds cloud metadata), unspecified, multicast. */
export function blockedAddress(address: string): string | null {
  const v4 = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  if (isIP(v4) === 4) {
    const [a, b] = v4.split('.').map(Number) as [number, number];
    if (a === 169 && b === 254) return 'a link-local address (169.254.0.0/16, where cloud metadata services answer)';
    if (a === 0) return 'an unspecified address (0.0.0.0/8)';
    if (a >= 224) return 'a multicast or reserved address';
    return null;
  }
  const lower = address.toLowerCase();
  if (/^fe[89ab]/.test(lower)) return 'a link-local address (fe80::/10)';
  if (lower === '::' || lower === '::0') return 'the unspecified address';
  if (lower.startsWith('ff')) return 'a multicast address';
  if (lower.startsWith('fd00:ec2::')) return 'the cloud metadata address';
  return null;
}

/** A DNS lookup that refuses a blocked address, so the check holds for the address connected to. */
function guardedLookup(
  hostname: string,
  options: object,
  callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, []);
    for (const a of addresses) {
      const why = blockedAddress(a.address);
      if (why) return callback(Object.assign(new Error(`${hostname} resolves to ${a.address}, ${why}`), { code: 'EBLOCKED' }), []);
    }
    if ((options as { all?: boolean }).all) return callback(null, addresses);
    const first = addresses[0];
    if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}

/** One POST; resolves with the status, or rejects with why there was none. */
function postOnce(url: URL, body: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      const why = blockedAddress(host);
      if (why) return reject(new Error(`${host} is ${why}`));
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'canary-mesh-analysis' },
        lookup: guardedLookup as never,
        timeout: timeoutMs,
      },
      (res) => {
        // The body is read (bounded) and dropped: a webhook's answer is never shown back (it could be anything).
        let seen = 0;
        res.on('data', (chunk: Buffer) => {
          seen += chunk.length;
          if (seen > BODY_LIMIT) res.destroy();
        });
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
        res.on('close', () => resolve(res.statusCode ?? 0));
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err));
    req.on('close', () => clearTimeout(timer));
    req.end(body);
  });
}

/**
 * POSTs `payload` to the webhook, retrying on a failure (no answer, or a 5xx/429) up to `retries` times with a
 * short back-off. 2xx is success; any other answer (a redirect too: it is never followed) is a failure.
 */
export async function callWebhook(hook: Webhook, payload: WebhookPayload, options: { backoffMs?: number } = {}): Promise<WebhookOutcome> {
  const body = JSON.stringify(payload);
  const url = new URL(hook.url);
  let status: number | null = null;
  let error: string | null = null;
  let attempts = 0;
  for (let i = 0; i <= hook.retries; i++) {
    attempts++;
    try {
      status = await postOnce(url, body, hook.timeoutMs);
      if (status >= 200 && status < 300) return { ok: true, status, attempts, error: null };
      error = `answered ${status}`;
      if (status < 500 && status !== 429) break; // a refusal, not a hiccup: asking again would not change it
    } catch (err) {
      status = null;
      error = (err as Error).message;
      if ((err as NodeJS.ErrnoException).code === 'EBLOCKED' || /is (a|an|the) /.test(error)) break;
    }
    if (i < hook.retries) await new Promise((r) => setTimeout(r, (options.backoffMs ?? 250) * 2 ** i));
  }
  return { ok: false, status, attempts, error };
}
