import { readToken, writeToken } from './token-store.js';

export interface ApiErrorDetail {
  path?: string;
  message: string;
}

/** Any failed API call: the API's own error body when there is one, else what the browser saw. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ApiErrorDetail[];
  readonly path: string;

  constructor(status: number, code: string, message: string, details: ApiErrorDetail[], path: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
    this.path = path;
  }
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Expect text (e.g. YAML) rather than JSON. */
  text?: boolean;
  signal?: AbortSignal;
}

/** The one fetch wrapper of the console: adds the token, sends JSON, turns error bodies into ApiError. */
export async function apiFetch<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: opts.text ? 'text/yaml, text/plain, */*' : 'application/json', ...opts.headers };
  const token = readToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method: opts.method ?? 'GET',
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError(0, 'Unreachable', `the control plane did not answer (${String(err)})`, [], path);
  }
  if (!res.ok) {
    const raw = await res.text();
    let code = `HTTP${res.status}`;
    let message = `${res.status} ${res.statusText}`.trim();
    let details: ApiErrorDetail[] = [];
    try {
      const parsed = JSON.parse(raw) as { error?: { code?: string; message?: string; details?: ApiErrorDetail[] } };
      if (parsed.error) {
        code = parsed.error.code ?? code;
        message = parsed.error.message ?? message;
        details = Array.isArray(parsed.error.details) ? parsed.error.details : [];
      }
    } catch {
      if (raw.trim()) message = `${message}: ${raw.trim().slice(0, 300)}`;
    }
    // A rejected token: back to the sign-in page rather than a wall of errors.
    if (res.status === 401) writeToken(null);
    throw new ApiError(res.status, code, message, details, path);
  }
  if (res.status === 204) return undefined as T;
  if (opts.text) return (await res.text()) as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Checks a token against the API without storing it: a person's token may ask who it is; the proxy's may not (403). */
export async function checkToken(token: string): Promise<void> {
  const res = await fetch('/api/v1/whoami', { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } }).catch(
    (err: unknown) => {
      throw new ApiError(0, 'Unreachable', `the control plane did not answer (${String(err)})`, [], '/api/v1/whoami');
    },
  );
  if (res.status === 401) throw new ApiError(401, 'Unauthorized', 'token rejected', [], '/api/v1/whoami');
  if (res.status === 403) throw new ApiError(403, 'Forbidden', 'token may not sign in', [], '/api/v1/whoami');
  if (!res.ok) throw new ApiError(res.status, `HTTP${res.status}`, `${res.status} ${res.statusText}`.trim(), [], '/api/v1/whoami');
}
