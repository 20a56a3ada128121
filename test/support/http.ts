import { Agent, request } from 'undici';

export interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

const agent = new Agent({ keepAliveTimeout: 10_000, connections: 64 });

/** One HTTP request over a keep-alive pool; never throws on HTTP status, only on connection errors. */
export async function http(
  method: string,
  url: string,
  opts: { body?: unknown; headers?: Record<string, string>; token?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await request(url, { method: method as 'GET', headers, body, dispatcher: agent });
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
}

/** The shared wait (test/support/wait-for.ts), also from here for tests that import it with `http`. */
export { waitFor } from './wait-for.js';
