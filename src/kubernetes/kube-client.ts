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
  /**
   * Called when the server answers 401: drop cached credentials (an exec plugin's token) so that `prepare`
   * fetches fresh ones; the request is then sent once more.
   */
  refreshCredentials?: () => void;
  /** Items per LIST page (`limit`); the rest comes with `continue`. Default 500, as kubectl and client-go. */
  listPageSize?: number;
  /** A watch that receives nothing (no event, no bookmark) for this long is taken for dead and ended; default 3 min. */
  watchIdleMs?: number;
  /** The `timeoutSeconds` of each watch; default a random 300..600 s, as client-go's reflector picks. */
  watchTimeoutSeconds?: () => number;
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
    readonly causes: { type?: string; reason?: string; message?: string; field?: string }[] = [],
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

/** How long past its `timeoutSeconds` a watch may stay open before the client ends it itself. */
const WATCH_DEADLINE_GRACE_MS = 30_000;

export class KubeClient {
  readonly server: string;
  readonly namespace: string;
  private readonly prepare: KubeClientOptions['prepare'];
  private readonly timeoutMs: number;
  private readonly refreshCredentials: KubeClientOptions['refreshCredentials'];
  private readonly listPageSize: number;
  private readonly watchIdleMs: number;
  private readonly watchTimeoutSeconds: () => number;

  constructor(options: KubeClientOptions) {
    this.server = options.server.replace(/\/+$/, '');
    this.namespace = options.namespace ?? 'default';
    this.prepare = options.prepare;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.refreshCredentials = options.refreshCredentials;
    this.listPageSize = options.listPageSize ?? 500;
    this.watchIdleMs = options.watchIdleMs ?? 180_000;
    this.watchTimeoutSeconds = options.watchTimeoutSeconds ?? (() => 300 + Math.floor(Math.random() * 300));
  }

  /** From a kubeconfig file and context, or, with no file and none found, from the pod's service account. */
  static async fromKubeConfig(source: KubeConfigSource & Pick<KubeClientOptions, 'watchIdleMs'> = {}): Promise<KubeClient> {
    const conn = loadKubeConnection(source);
    return new KubeClient({
      server: conn.server,
      namespace: conn.namespace,
      prepare: conn.prepare,
      ...(conn.refresh ? { refreshCredentials: conn.refresh } : {}),
      ...(source.watchIdleMs !== undefined ? { watchIdleMs: source.watchIdleMs } : {}),
    });
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
    // In pages of `limit`, so a large namespace is not one huge answer; every page is of the first page's
    // snapshot. A continue token that expired (410) starts the list again, as client-go's pager does.
    for (let attempt = 0; ; attempt++) {
      const all: T[] = [];
      let resourceVersion = '';
      let token = '';
      try {
        for (let page = 0; page < 100_000; page++) {
          const q = new URLSearchParams();
          if (opts.labelSelector) q.set('labelSelector', opts.labelSelector);
          q.set('limit', String(this.listPageSize));
          if (token) q.set('continue', token);
          const body = (await this.call('GET', withQuery(resourcePath(type, opts.namespace ?? this.namespace), q))) as {
            items?: T[];
            metadata?: { resourceVersion?: string; continue?: string };
          };
          if (page === 0) resourceVersion = body.metadata?.resourceVersion ?? '';
          // LIST items carry no apiVersion/kind on a real server.
          for (const o of body.items ?? []) all.push({ ...o, apiVersion: o.apiVersion ?? apiVersion(type), kind: o.kind ?? type.kind });
          token = body.metadata?.continue ?? '';
          if (!token) break;
        }
        return { items: all, resourceVersion };
      } catch (err) {
        if (token && attempt < 2 && err instanceof KubeApiError && err.status === 410) continue;
        throw err;
      }
    }
  }

  /**
   * Opens a watch from `resourceVersion`; events arrive through `onEvent` until the stream ends (resolves)
   * or fails (rejects). `signal` aborts it. A 410 Expired comes as an ERROR event or as a KubeApiError.
   *
   * A watch never hangs: it asks the server to end it after a random 5..10 min (`timeoutSeconds`), ends it
   * itself 30 s after that, and ends it at once when nothing (no event, no bookmark) arrived for
   * `watchIdleMs`: a load balancer or an API server failover can leave a connection open that nothing flows
   * through any more. Each of these ends resolves, and the caller resumes from the last resourceVersion.
   */
  async watch<T extends KubeObject = KubeObject>(
    type: ResourceType,
    opts: { namespace?: string; labelSelector?: string; resourceVersion?: string; signal?: AbortSignal },
    onEvent: (e: WatchEvent<T>) => void,
  ): Promise<void> {
    const timeoutSeconds = this.watchTimeoutSeconds();
    const q = new URLSearchParams({ watch: 'true', allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) });
    if (opts.resourceVersion) q.set('resourceVersion', opts.resourceVersion);
    if (opts.labelSelector) q.set('labelSelector', opts.labelSelector);
    const res = await this.open({
      method: 'GET',
      path: withQuery(resourcePath(type, opts.namespace ?? this.namespace), q),
      signal: opts.signal,
      timed: false,
    });
    if ((res.statusCode ?? 0) >= 300) throw await errorOf(res);
    await new Promise<void>((resolve, reject) => {
      let buffer = '';
      let ended = false;
      const end = () => {
        ended = true;
        clearTimeout(deadline);
        clearTimeout(idle);
        res.destroy();
        resolve();
      };
      const deadline = setTimeout(end, timeoutSeconds * 1000 + WATCH_DEADLINE_GRACE_MS);
      let idle = setTimeout(end, this.watchIdleMs);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        clearTimeout(idle);
        idle = setTimeout(end, this.watchIdleMs);
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
      const settle = (err?: Error) => {
        clearTimeout(deadline);
        clearTimeout(idle);
        if (ended) return;
        if (err) reject(err);
        else resolve();
      };
      res.on('end', () => settle());
      res.on('error', (err) => settle(err));
      res.on('aborted', () => settle(new Error('watch connection lost')));
      res.on('close', () => settle(res.complete ? undefined : new Error('watch connection lost')));
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
    const res = await this.open({ method, path, body, contentType, timed: true });
    if ((res.statusCode ?? 0) >= 300) throw await errorOf(res);
    const text = await readAll(res);
    return text ? JSON.parse(text) : undefined;
  }

  /** Sends a request; on 401 with refreshable credentials, refreshes them and sends it once more. */
  private async open(request: ApiRequest): Promise<IncomingMessage> {
    const res = await this.send(request);
    if (res.statusCode !== 401 || !this.refreshCredentials) return res;
    res.resume();
    this.refreshCredentials();
    return this.send(request);
  }

  private async send({ method, path, body, contentType, signal, timed }: ApiRequest): Promise<IncomingMessage> {
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
    const transport = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return await new Promise<IncomingMessage>((resolve, reject) => {
      const req = transport(opts, resolve);
      req.on('error', (err) => reject(new Error(`${method} ${this.server}${path}: ${err.message}`)));
      // TCP keepalive: a peer that is gone (not just silent) is noticed by the kernel within a few minutes.
      req.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
      if (timed) req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      else {
        // A watch may stream for minutes, but its answer must start in time: a pooled connection can be dead.
        const head = setTimeout(() => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
        req.on('response', () => clearTimeout(head));
        req.on('close', () => clearTimeout(head));
      }
      req.end(body);
    });
  }
}

/** One request to the API server. `timed`: the whole answer must come within the timeout (not a watch's stream). */
interface ApiRequest {
  method: string;
  path: string;
  body?: string | undefined;
  contentType?: string | undefined;
  signal?: AbortSignal | undefined;
  timed: boolean;
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
