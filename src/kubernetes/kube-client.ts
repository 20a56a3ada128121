import { type IncomingMessage, request as httpRequest } from 'node:http';
import { type RequestOptions, request as httpsRequest } from 'node:https';
import { stringify } from 'yaml';
import { loadKubeConnection } from './kube-config.js';
import { FIELD_MANAGER, type KubeObject, type ResourceType, resourceOf, resourcePath } from './kube-object.js';

/**
 * A small Kubernetes API client over node:http(s): GET, LIST, WATCH (newline-delimited JSON events),
 * server-side apply, merge patch and DELETE for the few resources Canary Mesh uses. Credentials come from
 * a kubeconfig or the pod's service account (kube-config.ts).
 */

export interface KubeClientOptions {
  /** API server URL, e.g. https://10.96.0.1 or http://127.0.0.1:PORT for the fake. */
  server: string;
  /** The namespace used when a call does not name one. */
  namespace?: string;
  /** TLS options and headers applied to every request (CA, client certificate, Authorization). */
  prepare?: (opts: RequestOptions) => Promise<void>;
  /** Per-request timeout for non-watch calls; default 30 s. */
  timeoutMs?: number;
}

export interface KubeConfigSource {
  /** Path of a kubeconfig file; default: $KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** A non-2xx answer of the API server, with its Status. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly causes: { type?: string; message?: string; field?: string }[] = [],
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface ApplyOptions {
  fieldManager?: string;
  /** Take fields owned by other managers (kubectl apply --server-side --force-conflicts). */
  force?: boolean;
  /** Server-side dry run: validated and defaulted, not persisted. */
  dryRun?: boolean;
}

export class KubeClient {
  readonly server: string;
  readonly namespace: string;
  private readonly prepare: KubeClientOptions['prepare'];
  private readonly timeoutMs: number;

  constructor(options: KubeClientOptions) {
    this.server = options.server.replace(/\/+$/, '');
    this.namespace = options.namespace ?? 'default';
    this.prepare = options.prepare;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** From a kubeconfig file and context, or, with no file and none found, from the pod's service account. */
  static async fromKubeConfig(source: KubeConfigSource = {}): Promise<KubeClient> {
    const conn = loadKubeConnection(source);
    return new KubeClient({ server: conn.server, namespace: conn.namespace, prepare: conn.prepare });
  }

  async get<T extends KubeObject = KubeObject>(type: ResourceType, name: string, namespace = this.namespace): Promise<T | undefined> {
    try {
      return (await this.call('GET', resourcePath(type, namespace, name))) as T;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async list<T extends KubeObject = KubeObject>(
    type: ResourceType,
    opts: { namespace?: string; labelSelector?: string } = {},
  ): Promise<{ items: T[]; resourceVersion: string }> {
    const q = new URLSearchParams();
    if (opts.labelSelector) q.set('labelSelector', opts.labelSelector);
    const body = (await this.call('GET', withQuery(resourcePath(type, opts.namespace ?? this.namespace), q))) as {
      items?: T[];
      metadata?: { resourceVersion?: string };
    };
    // LIST items carry no apiVersion/kind on a real server.
    const items = (body.items ?? []).map((o) => ({ ...o, apiVersion: o.apiVersion ?? apiVersion(type), kind: o.kind ?? type.kind }));
    return { items, resourceVersion: body.metadata?.resourceVersion ?? '' };
  }

  /**
   * Opens a watch from `resourceVersion`; events arrive through `onEvent` until the stream ends (resolves)
   * or fails (rejects). `signal` aborts it. A 410 Expired comes as an ERROR event or as a KubeApiError.
   */
  async watch<T extends KubeObject = KubeObject>(
    type: ResourceType,
    opts: { namespace?: string; labelSelector?: string; resourceVersion?: string; signal?: AbortSignal },
    onEvent: (e: WatchEvent<T>) => void,
  ): Promise<void> {
    const q = new URLSearchParams({ watch: 'true', allowWatchBookmarks: 'true' });
    if (opts.resourceVersion) q.set('resourceVersion', opts.resourceVersion);
    if (opts.labelSelector) q.set('labelSelector', opts.labelSelector);
    const res = await this.open(
      'GET',
      withQuery(resourcePath(type, opts.namespace ?? this.namespace), q),
      undefined,
      undefined,
      opts.signal,
      false,
    );
    if ((res.statusCode ?? 0) >= 300) throw await errorOf(res);
    await new Promise<void>((resolve, reject) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let nl = buffer.indexOf('\n');
        while (nl >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (line) {
            try {
              onEvent(JSON.parse(line) as WatchEvent<T>);
            } catch (err) {
              res.destroy(err as Error);
              return;
            }
          }
          nl = buffer.indexOf('\n');
        }
      });
      res.on('end', resolve);
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('watch connection lost')));
      res.on('close', () => (res.complete ? resolve() : reject(new Error('watch connection lost'))));
    });
  }

  /** Server-side apply of a whole object under one field manager (PATCH application/apply-patch+yaml). */
  async apply<T extends KubeObject>(obj: T, opts: ApplyOptions = {}): Promise<T> {
    const type = resourceOf(obj);
    const namespace = obj.metadata.namespace ?? this.namespace;
    const q = new URLSearchParams({ fieldManager: opts.fieldManager ?? FIELD_MANAGER });
    if (opts.force) q.set('force', 'true');
    if (opts.dryRun) q.set('dryRun', 'All');
    const body = stringify({ ...obj, metadata: { ...obj.metadata, namespace } });
    return (await this.call(
      'PATCH',
      withQuery(resourcePath(type, namespace, obj.metadata.name), q),
      body,
      'application/apply-patch+yaml',
    )) as T;
  }

  /** A JSON merge patch, recorded as an "Update" by `fieldManager` (what `kubectl edit` does). */
  async mergePatch<T extends KubeObject = KubeObject>(
    type: ResourceType,
    name: string,
    patch: unknown,
    opts: { namespace?: string; fieldManager?: string } = {},
  ): Promise<T> {
    const q = new URLSearchParams();
    if (opts.fieldManager) q.set('fieldManager', opts.fieldManager);
    return (await this.call(
      'PATCH',
      withQuery(resourcePath(type, opts.namespace ?? this.namespace, name), q),
      JSON.stringify(patch),
      'application/merge-patch+json',
    )) as T;
  }

  /** Deletes an object (background propagation, so its pods go too); false when it did not exist. */
  async delete(type: ResourceType, name: string, namespace = this.namespace): Promise<boolean> {
    try {
      await this.call(
        'DELETE',
        resourcePath(type, namespace, name),
        JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' }),
        'application/json',
      );
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return false;
      throw err;
    }
  }

  private async call(method: string, path: string, body?: string, contentType?: string): Promise<unknown> {
    const res = await this.open(method, path, body, contentType, undefined, true);
    if ((res.statusCode ?? 0) >= 300) throw await errorOf(res);
    const text = await readAll(res);
    return text ? JSON.parse(text) : undefined;
  }

  private async open(
    method: string,
    path: string,
    body: string | undefined,
    contentType: string | undefined,
    signal: AbortSignal | undefined,
    timed: boolean,
  ): Promise<IncomingMessage> {
    const url = new URL(this.server + path);
    const opts: RequestOptions = {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: { accept: 'application/json', 'user-agent': 'canary-mesh' },
      ...(signal ? { signal } : {}),
    };
    if (this.prepare) await this.prepare(opts);
    if (body !== undefined)
      opts.headers = { ...opts.headers, 'content-type': contentType ?? 'application/json', 'content-length': Buffer.byteLength(body) };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(opts, resolve);
      req.on('error', (err) => reject(new Error(`${method} ${this.server}${path}: ${err.message}`)));
      if (timed) req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.end(body);
    });
  }
}

function apiVersion(type: ResourceType): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}

function withQuery(path: string, q: URLSearchParams): string {
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

async function errorOf(res: IncomingMessage): Promise<KubeApiError> {
  const text = await readAll(res);
  const code = res.statusCode ?? 0;
  try {
    const status = JSON.parse(text) as { message?: string; reason?: string; details?: { causes?: KubeApiError['causes'] } };
    return new KubeApiError(code, status.reason ?? 'Unknown', status.message ?? text, status.details?.causes ?? []);
  } catch {
    return new KubeApiError(code, 'Unknown', text || `HTTP ${code}`);
  }
}
