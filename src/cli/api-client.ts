import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The detail list of the API's error body: which field, what is wrong. */
export interface ApiErrorDetail {
  path: string;
  message: string;
}

/** The API answered with an error body (`{"error": {code, message, details}}`) or an unexpected status. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ApiErrorDetail[];
  constructor(status: number, code: string, message: string, details: ApiErrorDetail[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Nothing answered at the server URL (refused, unknown host, timed out). */
export class UnreachableError extends Error {
  readonly server: string;
  constructor(server: string, why: string) {
    super(
      `the control plane is not reachable at ${server} (${why}).\n` +
        'Start one with `canary up` (add `--demo bookinfo` for the demo), or point --server / CANARY_SERVER at a running one.',
    );
    this.name = 'UnreachableError';
    this.server = server;
  }
}

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';
export const DEFAULT_DATA_DIR = '.canary';
export const TOKEN_FILE_NAME = 'admin-token';

export interface ApiClientOptions {
  server: string;
  token?: string;
  /** Per-request limit; finishing a release waits for a drain period, so it is generous. */
  timeoutMs?: number;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  ifMatch?: string;
}

/** Where the client finds its server and token: flags, then environment, then the data directory. */
export interface ClientSettingsInput {
  server?: string;
  token?: string;
  data?: string;
  env?: NodeJS.ProcessEnv;
}

export function resolveClientSettings(input: ClientSettingsInput): ApiClientOptions & { tokenSource: string } {
  const env = input.env ?? process.env;
  const server = (input.server ?? env.CANARY_SERVER ?? DEFAULT_SERVER).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(server)) {
    throw new Error(`--server: must be an http:// or https:// URL such as ${DEFAULT_SERVER}, got "${server}"`);
  }
  if (input.token) return { server, token: input.token, tokenSource: '--token' };
  if (env.CANARY_TOKEN) return { server, token: env.CANARY_TOKEN, tokenSource: 'CANARY_TOKEN' };
  const file = join(resolve(input.data ?? DEFAULT_DATA_DIR), TOKEN_FILE_NAME);
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token) return { server, token, tokenSource: file };
  }
  return { server, tokenSource: 'none' };
}

/** The control plane's REST API over fetch; every failure becomes an ApiError or an UnreachableError. */
export class ApiClient {
  readonly server: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(opts: ApiClientOptions) {
    this.server = opts.server.replace(/\/+$/, '');
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 180_000;
  }

  get<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.json<T>('GET', path, opts);
  }
  post<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.json<T>('POST', path, opts);
  }
  put<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.json<T>('PUT', path, opts);
  }
  patch<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.json<T>('PATCH', path, opts);
  }
  delete<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
    return this.json<T>('DELETE', path, opts);
  }

  /** A text answer (e.g. the manifests' YAML). */
  async text(path: string, opts: RequestOptions = {}): Promise<string> {
    const res = await this.send('GET', path, opts, 'text/yaml, text/plain, */*');
    return res.text();
  }

  private async json<T>(method: string, path: string, opts: RequestOptions): Promise<T> {
    const res = await this.send(method, path, opts, 'application/json');
    const text = await res.text();
    if (text.length === 0) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(
        res.status,
        'BadResponse',
        `${method} ${path}: the server answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`,
      );
    }
  }

  private async send(method: string, path: string, opts: RequestOptions, accept: string): Promise<Response> {
    const url = new URL(`${this.server}${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (opts.ifMatch) headers['if-match'] = `"${opts.ifMatch}"`;
    let body: string | undefined;
    // No content-type without a body: the server would refuse an empty JSON body.
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new UnreachableError(this.server, connectFailure(err));
    }
    if (!res.ok) throw await errorOf(res, method, path);
    return res;
  }
}

function connectFailure(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'no answer in time';
  const cause = e?.cause;
  if (cause?.code) return `${cause.code}${cause.message && !cause.message.includes(cause.code) ? `: ${cause.message}` : ''}`;
  return cause?.message ?? e?.message ?? String(err);
}

async function errorOf(res: Response, method: string, path: string): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; details?: ApiErrorDetail[] } };
    if (body.error?.message) {
      return new ApiError(
        res.status,
        body.error.code ?? String(res.status),
        body.error.message,
        Array.isArray(body.error.details) ? body.error.details : [],
      );
    }
  } catch {
    // Not the API's error body (a proxy or another server answered); fall through.
  }
  return new ApiError(
    res.status,
    String(res.status),
    `${method} ${path} answered ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`,
  );
}
