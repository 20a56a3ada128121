import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import {
  type Deployment,
  type KubeObject,
  type ManagedFieldsEntry,
  RESOURCES,
  type ResourceType,
  apiVersionOf,
} from '../../../src/kubernetes/kube-object.js';
import { FakeAuth, type FakeUser } from './fake-auth.js';
import { type FieldPath, deletePath, getPath, isMap, leafPaths, sameValue, setPath } from '../../../src/kubernetes/object-fields.js';

/**
 * An in-process Kubernetes API server for tests (node:http on 127.0.0.1, port 0), following the API's
 * conventions for the resources Canary Mesh uses: GET, LIST (labelSelector), WATCH (chunked JSON lines, replay
 * from a resourceVersion, 410 Expired once history is compacted), POST, PUT (resourceVersion conflicts),
 * merge PATCH (an "Update" by its field manager, as `kubectl edit` does), server-side apply PATCH
 * (application/apply-patch+yaml, fieldManager, force, managedFields ownership -> 409 conflict) and DELETE.
 *
 * Stricter where a real server is strict: bearer-token authentication (401) and RBAC authorization (403, fake-auth.ts)
 * evaluated from Role/RoleBinding/ClusterRole/ClusterRoleBinding objects (e.g. the manifests in deploy/), an
 * immutable Deployment `spec.selector` and a selector that must match the pod template (422), `apiVersion`
 * checked on apply (400), watches that end after `timeoutSeconds`, BOOKMARK events, "Too large resource
 * version" from a lagging watch cache (504), LIST with `limit`/`continue` (410 once the snapshot is compacted).
 *
 * Field ownership merges the keyed lists of Deployments, Services and Pods by key (containers and env by
 * name, ports by port; see object-fields.ts) and treats other lists as atomic, as CRDs without list-type
 * markers are. Simplifications: no admission, no finalizers. A small
 * "deployment controller" makes pods for Deployments and reports their rollout, as `podBehaviour` says.
 */

export type { FakeUser } from './fake-auth.js';

export interface PodBehaviour {
  ready: boolean;
  /** Why a container is waiting, e.g. ImagePullBackOff. */
  reason?: string;
  message?: string;
}

export interface FakeApiServerOptions {
  /** How the pods of a Deployment fare; default: all ready. Return undefined to leave the Deployment without pods. */
  podBehaviour?: (deployment: Deployment) => PodBehaviour | undefined;
  /** Delay before the fake controller reacts to a Deployment change; default 20 ms. */
  controllerDelayMs?: number;
  /**
   * Bearer tokens the server knows, each with its user (and groups). When given, every request needs one
   * (else 401), and unless a user is in group `system:masters` it is authorized by `rbac` (else 403).
   */
  tokens?: Record<string, FakeUser>;
  /** Role, RoleBinding, ClusterRole and ClusterRoleBinding objects (namespaced ones with their namespace). */
  rbac?: KubeObject[];
  /** How often a watch that allows bookmarks gets a BOOKMARK event; default 60 s (the API server's own rhythm). */
  bookmarkIntervalMs?: number;
  /** How long a watch without `timeoutSeconds` stays open; default 30 min (the API server's --min-request-timeout). */
  defaultWatchTimeoutMs?: number;
}

interface Stored {
  type: ResourceType;
  object: KubeObject;
  /** Field paths (JSON-encoded) owned by each manager, with its operation. */
  owners: Map<string, { operation: 'Apply' | 'Update'; fields: Set<string> }>;
}

interface WatchEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  key: string;
  object: KubeObject;
}

interface Watcher {
  plural: string;
  group: string;
  namespace: string;
  selector: (labels: Record<string, string>) => boolean;
  res: ServerResponse;
  timers: NodeJS.Timeout[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string;
  authorization: string;
  /** When it arrived (Date.now()). */
  at: number;
}

const enc = (p: FieldPath) => JSON.stringify(p);
const dec = (s: string) => JSON.parse(s) as FieldPath;

export class FakeApiServer {
  /** Every request, in order, for assertions. */
  readonly requests: RecordedRequest[] = [];
  private server: Server | null = null;
  private readonly objects = new Map<string, Stored>();
  private readonly history: WatchEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private rv = 100;
  /** Watches from a resourceVersion below this get 410 Expired. */
  private oldestRv = 0;
  private readonly podBehaviour: NonNullable<FakeApiServerOptions['podBehaviour']>;
  private readonly controllerDelayMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly auth: FakeAuth;
  private readonly bookmarkIntervalMs: number;
  private readonly defaultWatchTimeoutMs: number;
  /** While set, the watch cache serves only up to this resourceVersion (a lagging API server after a failover). */
  private watchCacheRv: number | null = null;
  /** LIST snapshots being paged through with `continue`, by token. */
  private readonly pages = new Map<string, { rv: number; items: KubeObject[] }>();
  private pageSeq = 0;

  constructor(options: FakeApiServerOptions = {}) {
    this.podBehaviour = options.podBehaviour ?? (() => ({ ready: true }));
    this.controllerDelayMs = options.controllerDelayMs ?? 20;
    this.auth = new FakeAuth(options.tokens, options.rbac);
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 60_000;
    this.defaultWatchTimeoutMs = options.defaultWatchTimeoutMs ?? 1_800_000;
  }

  get url(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('FakeApiServer is not listening; await start() first');
    return `http://127.0.0.1:${addr.port}`;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => this.status(res, 500, 'InternalError', String(err)));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this.url;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.dropWatches();
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // --- test hooks -------------------------------------------------------------------------------

  /** Stores an object as if `manager` had created it with a plain create (an "Update" in managedFields). */
  seed(obj: KubeObject, manager = 'kubectl-create'): KubeObject {
    const type = this.typeOf(obj);
    const ns = obj.metadata.namespace ?? 'default';
    const created = this.create(type, ns, structuredClone(obj), manager);
    return created;
  }

  /** The stored object, or undefined. */
  object(kind: keyof typeof RESOURCES, namespace: string, name: string): KubeObject | undefined {
    const o = this.objects.get(this.key(RESOURCES[kind], namespace, name));
    return o ? structuredClone(o.object) : undefined;
  }

  objectsOf(kind: keyof typeof RESOURCES, namespace: string): KubeObject[] {
    const type = RESOURCES[kind];
    return [...this.objects.values()]
      .filter((o) => o.type.plural === type.plural && o.type.group === type.group && o.object.metadata.namespace === namespace)
      .map((o) => structuredClone(o.object));
  }

  /** How many watch streams are open now. */
  openWatches(): number {
    return this.watchers.size;
  }

  /** Ends every open watch stream, as a dropped connection or an API server restart does. */
  dropWatches(): void {
    for (const w of this.watchers) {
      for (const t of w.timers) clearTimeout(t);
      w.res.destroy();
    }
    this.watchers.clear();
  }

  /** Forgets the event history: a watch resumed from an older resourceVersion gets 410 Expired. */
  compact(): void {
    this.oldestRv = this.rv + 1;
    this.history.length = 0;
    this.pages.clear();
  }

  /**
   * A failover to an API server whose watch cache is behind (HA control planes, an etcd restore): open watches
   * end, and a watch from a resourceVersion newer than the cache's gets "Too large resource version" (504)
   * until a consistent LIST (served from etcd, not the cache) has been made.
   */
  failoverToLaggingServer(): void {
    this.watchCacheRv = this.rv - 1;
    this.dropWatches();
  }

  /** Adds (or replaces) a bearer token; `revokeToken` removes one (its next request gets 401). */
  setToken(token: string, user: FakeUser): void {
    this.auth.setToken(token, user);
  }

  revokeToken(token: string): void {
    this.auth.revokeToken(token);
  }

  /** Deletes an object at once (as `kubectl delete` would), for tests that must change things in one tick. */
  remove(kind: keyof typeof RESOURCES, namespace: string, name: string): void {
    const key = this.key(RESOURCES[kind], namespace, name);
    const stored = this.objects.get(key);
    if (!stored) throw new Error(`no ${kind} ${namespace}/${name}`);
    this.objects.delete(key);
    this.rv++;
    stored.object.metadata.resourceVersion = String(this.rv);
    this.publish({ rv: this.rv, type: 'DELETED', key, object: structuredClone(stored.object) });
  }

  /** Writes status, as a controller would (no ownership change, no generation bump). */
  setStatus(kind: keyof typeof RESOURCES, namespace: string, name: string, status: unknown): void {
    const stored = this.objects.get(this.key(RESOURCES[kind], namespace, name));
    if (!stored) throw new Error(`no ${kind} ${namespace}/${name}`);
    stored.object.status = structuredClone(status);
    this.bump(stored, 'MODIFIED');
  }

  // --- HTTP -------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      contentType,
      authorization: req.headers.authorization ?? '',
      at: Date.now(),
    });
    const user = this.auth.authenticate(req.headers.authorization ?? '');
    if (!user) return this.status(res, 401, 'Unauthorized', 'Unauthorized');
    const route = this.route(url.pathname);
    if (!route) return this.status(res, 404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    const { type, namespace, name } = route;
    const body = req.method === 'GET' || req.method === 'DELETE' ? '' : await readBody(req);
    const watching = req.method === 'GET' && name === undefined && (query.watch === 'true' || query.watch === '1');
    const verb = watching ? 'watch' : FakeAuth.verbOf(req.method ?? 'GET', name);
    const forbidden = this.auth.forbidden(user, verb, type, namespace, name);
    if (forbidden) return this.status(res, 403, 'Forbidden', forbidden);
    // Server-side apply of an object that does not exist creates it: that needs `create` as well as `patch`.
    if (req.method === 'PATCH' && contentType === 'application/apply-patch+yaml' && name !== undefined) {
      const creates = !this.objects.has(this.key(type, namespace, name));
      const cannotCreate = creates ? this.auth.forbidden(user, 'create', type, namespace, name) : undefined;
      if (cannotCreate) return this.status(res, 403, 'Forbidden', cannotCreate);
    }

    if (req.method === 'GET' && name === undefined) {
      const selector = parseSelector(query.labelSelector ?? '');
      if (watching) return this.watch(type, namespace, query, selector, res);
      return this.listPage(res, type, namespace, selector, query);
    }
    if (name === undefined && req.method === 'POST') {
      let obj: KubeObject;
      try {
        obj = JSON.parse(body) as KubeObject;
      } catch {
        return this.status(res, 400, 'BadRequest', 'the body is not JSON');
      }
      if (this.objects.has(this.key(type, namespace, obj.metadata?.name ?? ''))) {
        return this.status(res, 409, 'AlreadyExists', `${type.plural}.${type.group || 'core'} "${obj.metadata.name}" already exists`);
      }
      const invalid = invalidObject(type, obj);
      if (invalid) return this.status(res, 422, 'Invalid', invalid);
      return this.json(res, 201, this.create(type, namespace, obj, query.fieldManager ?? 'unknown'));
    }
    if (name === undefined) return this.status(res, 405, 'MethodNotAllowed', `${req.method} is not allowed on a collection`);

    const key = this.key(type, namespace, name);
    const stored = this.objects.get(key);
    switch (req.method) {
      case 'GET':
        return stored ? this.json(res, 200, stored.object) : this.notFound(res, type, name);
      case 'DELETE':
        if (!stored) return this.notFound(res, type, name);
        this.objects.delete(key);
        this.rv++;
        stored.object.metadata.resourceVersion = String(this.rv);
        this.publish({ rv: this.rv, type: 'DELETED', key, object: structuredClone(stored.object) });
        if (type.plural === 'deployments') this.deletePods(namespace, name);
        return this.json(res, 200, stored.object);
      case 'PUT': {
        if (!stored) return this.notFound(res, type, name);
        const obj = JSON.parse(body) as KubeObject;
        if (obj.metadata?.resourceVersion !== stored.object.metadata.resourceVersion) {
          return this.status(
            res,
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${type.plural}.${type.group || 'core'} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          );
        }
        const invalid = invalidUpdate(type, stored.object, obj);
        if (invalid) return this.status(res, 422, 'Invalid', invalid);
        this.update(stored, obj, query.fieldManager ?? 'unknown');
        return this.json(res, 200, stored.object);
      }
      case 'PATCH': {
        if (contentType === 'application/apply-patch+yaml') return this.apply(res, type, namespace, name, stored, body, query);
        if (contentType === 'application/merge-patch+json' || contentType === 'application/strategic-merge-patch+json') {
          if (!stored) return this.notFound(res, type, name);
          const patched = mergePatch(structuredClone(stored.object), JSON.parse(body)) as KubeObject;
          const invalid = invalidUpdate(type, stored.object, patched);
          if (invalid) return this.status(res, 422, 'Invalid', invalid);
          this.update(stored, patched, query.fieldManager ?? 'kubectl-edit');
          return this.json(res, 200, stored.object);
        }
        return this.status(
          res,
          415,
          'UnsupportedMediaType',
          `the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml, application/merge-patch+json`,
        );
      }
      default:
        return this.status(res, 405, 'MethodNotAllowed', `${req.method} is not allowed`);
    }
  }

  private apply(
    res: ServerResponse,
    type: ResourceType,
    namespace: string,
    name: string,
    stored: Stored | undefined,
    body: string,
    query: Record<string, string>,
  ): void {
    const manager = query.fieldManager;
    if (!manager) {
      this.status(res, 400, 'BadRequest', 'PATCH with application/apply-patch+yaml requires fieldManager');
      return;
    }
    let applied: KubeObject;
    try {
      applied = parseYaml(body) as KubeObject;
    } catch (err) {
      this.status(res, 400, 'BadRequest', `error decoding YAML: ${(err as Error).message}`);
      return;
    }
    if (!isMap(applied) || applied.kind !== type.kind || applied.metadata?.name !== name) {
      this.status(res, 400, 'BadRequest', `the applied object must be a ${type.kind} named "${name}"`);
      return;
    }
    if (applied.apiVersion !== apiVersionOf(type)) {
      this.status(
        res,
        400,
        'BadRequest',
        `the API version in the data (${String(applied.apiVersion)}) does not match the expected API version (${apiVersionOf(type)})`,
      );
      return;
    }
    const dryRun = query.dryRun === 'All';
    const paths = leafPaths(applied);
    if (!stored) {
      const invalid = invalidObject(type, applied);
      if (invalid) {
        this.status(res, 422, 'Invalid', invalid);
        return;
      }
      if (dryRun) {
        this.json(res, 201, { ...applied, metadata: { ...applied.metadata, namespace } });
        return;
      }
      const created = this.create(type, namespace, applied, manager, 'Apply');
      this.json(res, 201, created);
      return;
    }
    if (applied.metadata.resourceVersion !== undefined && applied.metadata.resourceVersion !== stored.object.metadata.resourceVersion) {
      this.status(res, 409, 'Conflict', `Operation cannot be fulfilled on ${type.plural} "${name}": the object has been modified`);
      return;
    }
    const force = query.force === 'true';
    const conflicts: { manager: string; path: FieldPath }[] = [];
    for (const p of paths) {
      if (sameValue(getPath(applied, p), getPath(stored.object, p))) continue;
      for (const [other, owned] of stored.owners) {
        if (other !== manager && owned.fields.has(enc(p))) conflicts.push({ manager: other, path: p });
      }
    }
    if (conflicts.length > 0 && !force) {
      const causes = conflicts.map((c) => ({
        type: 'FieldManagerConflict',
        message: `conflict with "${c.manager}" using ${apiVersionOf(type)}`,
        field: c.path.map((k) => `.${k}`).join(''),
      }));
      const list = causes.map((c) => `${c.message}: ${c.field}`).join('\n- ');
      this.json(res, 409, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? 's' : ''}: ${conflicts.length > 1 ? `\n- ${list}` : list}`,
        reason: 'Conflict',
        details: { name, group: type.group, kind: type.plural, causes },
        code: 409,
      });
      return;
    }
    const next = structuredClone(stored.object) as KubeObject & Record<string, unknown>;
    const before = stored.owners.get(manager)?.fields ?? new Set<string>();
    const now = new Set(paths.map(enc));
    // Fields this manager applied before and no longer applies go away, unless someone else owns them too.
    for (const f of before) {
      if (now.has(f)) continue;
      const sharedWith = [...stored.owners].some(([m, o]) => m !== manager && o.fields.has(f));
      if (!sharedWith) deletePath(next, dec(f));
    }
    for (const p of paths) setPath(next, p, getPath(applied, p));
    const invalid = invalidUpdate(type, stored.object, next);
    if (invalid) {
      this.status(res, 422, 'Invalid', invalid);
      return;
    }
    if (dryRun) {
      this.json(res, 200, next);
      return;
    }
    for (const [other, owned] of stored.owners) {
      if (other === manager) continue;
      // Forced fields change hands; fields applied with the same value are shared.
      for (const c of conflicts) if (c.manager === other) owned.fields.delete(enc(c.path));
      if (owned.fields.size === 0) stored.owners.delete(other);
    }
    stored.owners.set(manager, { operation: 'Apply', fields: now });
    this.commit(stored, next);
    this.json(res, 200, stored.object);
    return;
  }

  private create(
    type: ResourceType,
    namespace: string,
    obj: KubeObject,
    manager: string,
    operation: 'Apply' | 'Update' = 'Update',
  ): KubeObject {
    this.rv++;
    obj.apiVersion = obj.apiVersion ?? apiVersionOf(type);
    obj.kind = obj.kind ?? type.kind;
    obj.metadata = {
      ...obj.metadata,
      namespace,
      uid: randomUUID(),
      resourceVersion: String(this.rv),
      generation: 1,
      creationTimestamp: new Date().toISOString(),
    };
    const stored: Stored = { type, object: obj, owners: new Map([[manager, { operation, fields: new Set(leafPaths(obj).map(enc)) }]]) };
    this.writeManagedFields(stored);
    const key = this.key(type, namespace, obj.metadata.name);
    this.objects.set(key, stored);
    this.publish({ rv: this.rv, type: 'ADDED', key, object: structuredClone(obj) });
    if (type.plural === 'deployments') this.controllerSoon(namespace, obj.metadata.name);
    return structuredClone(obj);
  }

  /** A non-apply write: changed fields move to `manager`, as the API server records an Update. */
  private update(stored: Stored, next: KubeObject, manager: string): void {
    const changed = leafPaths(next).filter((p) => !sameValue(getPath(next, p), getPath(stored.object, p)));
    const removed = leafPaths(stored.object).filter((p) => getPath(next, p) === undefined);
    for (const [m, owned] of stored.owners) {
      for (const p of [...changed, ...removed]) owned.fields.delete(enc(p));
      if (owned.fields.size === 0 && m !== manager) stored.owners.delete(m);
    }
    const mine = stored.owners.get(manager) ?? { operation: 'Update' as const, fields: new Set<string>() };
    for (const p of changed) mine.fields.add(enc(p));
    if (mine.fields.size > 0) stored.owners.set(manager, mine);
    next.status = stored.object.status;
    this.commit(stored, next);
  }

  private commit(stored: Stored, next: KubeObject): void {
    const old = stored.object;
    const specChanged = !sameValue(old.spec, next.spec);
    const before = JSON.stringify(withoutServerFields(old));
    next.metadata = {
      ...next.metadata,
      name: old.metadata.name,
      namespace: old.metadata.namespace,
      uid: old.metadata.uid,
      creationTimestamp: old.metadata.creationTimestamp,
      generation: (old.metadata.generation ?? 1) + (specChanged ? 1 : 0),
      resourceVersion: old.metadata.resourceVersion,
    };
    stored.object = next;
    const ownersBefore = JSON.stringify(old.metadata.managedFields?.map((m) => [m.manager, m.fieldsV1]));
    this.writeManagedFields(stored);
    const ownersAfter = JSON.stringify(stored.object.metadata.managedFields?.map((m) => [m.manager, m.fieldsV1]));
    // A no-op write does not bump the resourceVersion, as on a real API server.
    if (before === JSON.stringify(withoutServerFields(next)) && ownersBefore === ownersAfter) return;
    this.bump(stored, 'MODIFIED');
    if (specChanged && stored.type.plural === 'deployments') this.controllerSoon(next.metadata.namespace!, next.metadata.name);
  }

  private bump(stored: Stored, type: 'MODIFIED'): void {
    this.rv++;
    stored.object.metadata.resourceVersion = String(this.rv);
    const ns = stored.object.metadata.namespace ?? 'default';
    this.publish({
      rv: this.rv,
      type,
      key: this.key(stored.type, ns, stored.object.metadata.name),
      object: structuredClone(stored.object),
    });
  }

  private writeManagedFields(stored: Stored): void {
    const time = new Date().toISOString();
    const entries: ManagedFieldsEntry[] = [...stored.owners].map(([manager, { operation, fields }]) => ({
      manager,
      operation,
      apiVersion: stored.object.apiVersion,
      time,
      fieldsType: 'FieldsV1',
      fieldsV1: fieldsV1([...fields].map(dec)),
    }));
    stored.object.metadata.managedFields = entries;
  }

  private watch(
    type: ResourceType,
    namespace: string,
    query: Record<string, string>,
    selector: Watcher['selector'],
    res: ServerResponse,
  ): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const fromRv = query.resourceVersion;
    const from = fromRv === undefined || fromRv === '' || fromRv === '0' ? undefined : Number(fromRv);
    const failure = (code: number, reason: string, message: string, details?: unknown) =>
      res.end(
        `${JSON.stringify({
          type: 'ERROR',
          object: {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message,
            reason,
            code,
            ...(details ? { details } : {}),
          },
        })}\n`,
      );
    if (from !== undefined && from < this.oldestRv - 1) {
      // As the API server does: the watch opens, sends one ERROR event with a 410 Status, and ends.
      failure(410, 'Expired', `too old resource version: ${from} (${this.oldestRv})`);
      return;
    }
    if (from !== undefined && this.watchCacheRv !== null && from > this.watchCacheRv) {
      failure(504, 'Timeout', `Timeout: Too large resource version: ${from}, current: ${this.watchCacheRv}`, {
        causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
        retryAfterSeconds: 1,
      });
      return;
    }
    const w: Watcher = { plural: type.plural, group: type.group, namespace, selector, res, timers: [] };
    if (from === undefined) {
      for (const o of this.list(type, namespace))
        if (selector(o.metadata.labels ?? {})) res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`);
    } else {
      for (const e of this.history)
        if (e.rv > from && this.matches(w, e)) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
    }
    // The server ends every watch after timeoutSeconds (or its own default): clients must resume.
    const timeoutMs = query.timeoutSeconds ? Number(query.timeoutSeconds) * 1000 : this.defaultWatchTimeoutMs;
    w.timers.push(setTimeout(() => res.end(), timeoutMs));
    if (query.allowWatchBookmarks === 'true') {
      const bookmark = () => {
        const object = { kind: type.kind, apiVersion: apiVersionOf(type), metadata: { resourceVersion: String(this.rv) } };
        res.write(`${JSON.stringify({ type: 'BOOKMARK', object })}\n`);
      };
      w.timers.push(setInterval(bookmark, this.bookmarkIntervalMs));
    }
    this.watchers.add(w);
    res.on('close', () => {
      for (const t of w.timers) clearTimeout(t);
      this.watchers.delete(w);
    });
  }

  /** LIST, paged when `limit` is given: the first page takes a snapshot that `continue` tokens page through. */
  private listPage(
    res: ServerResponse,
    type: ResourceType,
    namespace: string,
    selector: Watcher['selector'],
    query: Record<string, string>,
  ): void {
    // A consistent LIST is served from etcd; a lagging watch cache catches up meanwhile.
    this.watchCacheRv = null;
    let snapshot: { rv: number; items: KubeObject[] };
    let start = 0;
    if (query.continue) {
      const [id, offset] = query.continue.split(':');
      const found = this.pages.get(id ?? '');
      if (!found) {
        this.status(
          res,
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
        return;
      }
      snapshot = found;
      start = Number(offset);
    } else {
      snapshot = { rv: this.rv, items: this.list(type, namespace).filter((o) => selector(o.metadata.labels ?? {})) };
    }
    const limit = query.limit ? Number(query.limit) : 0;
    const end = limit > 0 ? Math.min(start + limit, snapshot.items.length) : snapshot.items.length;
    const metadata: Record<string, unknown> = { resourceVersion: String(snapshot.rv) };
    if (end < snapshot.items.length) {
      let id = query.continue?.split(':')[0];
      if (!id) {
        id = `p${++this.pageSeq}`;
        this.pages.set(id, snapshot);
      }
      metadata.continue = `${id}:${end}`;
      metadata.remainingItemCount = snapshot.items.length - end;
    }
    this.json(res, 200, { apiVersion: apiVersionOf(type), kind: `${type.kind}List`, metadata, items: snapshot.items.slice(start, end) });
  }

  private publish(e: WatchEvent): void {
    this.history.push(e);
    for (const w of this.watchers) if (this.matches(w, e)) w.res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
  }

  private matches(w: Watcher, e: WatchEvent): boolean {
    return e.key.startsWith(`${w.group}/${w.plural}/${w.namespace}/`) && w.selector(e.object.metadata.labels ?? {});
  }

  // --- the fake deployment controller -----------------------------------------------------------

  private controllerSoon(namespace: string, name: string): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.reconcileDeployment(namespace, name);
    }, this.controllerDelayMs);
    this.timers.add(t);
  }

  private reconcileDeployment(namespace: string, name: string): void {
    if (!this.server) return;
    const stored = this.objects.get(this.key(RESOURCES.Deployment, namespace, name));
    if (!stored) return;
    const d = stored.object as Deployment;
    const behaviour = this.podBehaviour(d);
    if (!behaviour) return;
    this.deletePods(namespace, name);
    const replicas = d.spec.replicas ?? 1;
    const hash = Math.abs(hashOf(JSON.stringify(d.spec.template)))
      .toString(36)
      .slice(0, 6);
    const container = d.spec.template.spec.containers[0];
    for (let i = 0; i < replicas; i++) {
      this.create(
        RESOURCES.Pod,
        namespace,
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: `${name}-${hash}-${i}`,
            namespace,
            labels: { ...d.spec.template.metadata?.labels },
            ownerReferences: [{ kind: 'Deployment', name }],
          },
          spec: { containers: d.spec.template.spec.containers, nodeName: 'fake-node' },
          status: {
            phase: behaviour.ready ? 'Running' : 'Pending',
            podIP: `10.0.0.${(i % 250) + 2}`,
            startTime: new Date().toISOString(),
            conditions: [{ type: 'Ready', status: behaviour.ready ? 'True' : 'False' }],
            containerStatuses: [
              {
                name: container?.name ?? 'main',
                ready: behaviour.ready,
                restartCount: 0,
                state: behaviour.ready
                  ? { running: {} }
                  : { waiting: { reason: behaviour.reason ?? 'ContainerCreating', message: behaviour.message ?? '' } },
              },
            ],
          },
        },
        'kube-controller-manager',
      );
    }
    const ready = behaviour.ready ? replicas : 0;
    stored.object.status = {
      observedGeneration: d.metadata.generation,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: ready,
      availableReplicas: ready,
      unavailableReplicas: replicas - ready,
      conditions: [
        {
          type: 'Available',
          status: ready >= replicas ? 'True' : 'False',
          reason: ready >= replicas ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
        },
        { type: 'Progressing', status: 'True', reason: ready >= replicas ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated' },
      ],
    };
    this.bump(stored, 'MODIFIED');
  }

  private deletePods(namespace: string, deployment: string): void {
    for (const [key, o] of this.objects) {
      if (o.type.plural !== 'pods' || o.object.metadata.namespace !== namespace) continue;
      const owners = (o.object.metadata.ownerReferences ?? []) as { kind: string; name: string }[];
      if (!owners.some((r) => r.kind === 'Deployment' && r.name === deployment)) continue;
      this.objects.delete(key);
      this.rv++;
      o.object.metadata.resourceVersion = String(this.rv);
      this.publish({ rv: this.rv, type: 'DELETED', key, object: structuredClone(o.object) });
    }
  }

  // --- helpers ----------------------------------------------------------------------------------

  private route(pathname: string): { type: ResourceType; namespace: string; name?: string } | undefined {
    const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
    let group: string;
    let rest: string[];
    if (parts[0] === 'api' && parts[1] === 'v1') {
      group = '';
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 3) {
      group = parts[1]!;
      rest = parts.slice(3);
    } else return undefined;
    if (rest[0] !== 'namespaces' || rest.length < 3 || rest.length > 4) return undefined;
    const type = Object.values(RESOURCES).find((t) => t.group === group && t.plural === rest[2]);
    if (!type) return undefined;
    return {
      type: { ...type, version: group === '' ? 'v1' : parts[2]! },
      namespace: rest[1]!,
      ...(rest[3] !== undefined ? { name: rest[3] } : {}),
    };
  }

  private typeOf(obj: KubeObject): ResourceType {
    const type = Object.values(RESOURCES).find((t) => t.kind === obj.kind);
    if (!type) throw new Error(`FakeApiServer does not serve ${obj.kind}`);
    return type;
  }

  private key(type: Pick<ResourceType, 'group' | 'plural'>, namespace: string, name: string): string {
    return `${type.group}/${type.plural}/${namespace}/${name}`;
  }

  private list(type: ResourceType, namespace: string): KubeObject[] {
    const prefix = `${type.group}/${type.plural}/${namespace}/`;
    return [...this.objects].filter(([k]) => k.startsWith(prefix)).map(([, o]) => structuredClone(o.object));
  }

  private notFound(res: ServerResponse, type: ResourceType, name: string): void {
    this.status(res, 404, 'NotFound', `${type.plural}.${type.group || 'core'} "${name}" not found`);
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    this.json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  }

  private json(res: ServerResponse, code: number, body: unknown): void {
    if (res.headersSent) return;
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}

/** Validation a real server does on create: a Deployment's selector must select its own pod template. */
function invalidObject(type: ResourceType, obj: KubeObject): string | undefined {
  if (type.plural !== 'deployments') return undefined;
  const d = obj as Deployment;
  const selector = d.spec?.selector?.matchLabels ?? {};
  const labels = d.spec?.template?.metadata?.labels ?? {};
  if (Object.entries(selector).every(([k, v]) => labels[k] === v)) return undefined;
  return `Deployment.apps "${obj.metadata.name}" is invalid: spec.template.metadata.labels: Invalid value: ${JSON.stringify(labels)}: \`selector\` does not match template \`labels\``;
}

/** Validation a real server does on update: a Deployment's spec.selector is immutable (apps/v1). */
function invalidUpdate(type: ResourceType, old: KubeObject, next: KubeObject): string | undefined {
  if (type.plural !== 'deployments') return undefined;
  const before = (old as Deployment).spec?.selector;
  const after = (next as Deployment).spec?.selector;
  if (!sameValue(before, after)) {
    return `Deployment.apps "${old.metadata.name}" is invalid: spec.selector: Invalid value: ${JSON.stringify(after)}: field is immutable`;
  }
  return invalidObject(type, next);
}

function withoutServerFields(o: KubeObject): unknown {
  const { resourceVersion: _rv, managedFields: _mf, generation: _g, ...metadata } = o.metadata;
  return { ...o, metadata };
}

function fieldsV1(paths: FieldPath[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const p of paths) {
    let cur = root;
    for (const k of p) {
      // Keyed-list entries appear as in a real server's managedFields: k:{"name":"reviews"}.
      const f = k.startsWith('k:') ? k : `f:${k}`;
      cur[f] = (cur[f] as Record<string, unknown> | undefined) ?? {};
      cur = cur[f] as Record<string, unknown>;
    }
  }
  return root;
}

/** `a=b,c` -> labels must have a=b and c; empty -> everything. */
function parseSelector(text: string): (labels: Record<string, string>) => boolean {
  const terms = text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => {
      const i = t.indexOf('=');
      return i < 0 ? { key: t, value: undefined } : { key: t.slice(0, i).replace(/=$/, ''), value: t.slice(i + 1).replace(/^=/, '') };
    });
  return (labels) => terms.every((t) => (t.value === undefined ? t.key in labels : labels[t.key] === t.value));
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isMap(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isMap(target) ? target : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function hashOf(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
  return h;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
