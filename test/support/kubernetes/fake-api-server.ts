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
import { type FieldPath, deletePath, getPath, isMap, leafPaths, sameValue, setPath } from '../../../src/kubernetes/object-fields.js';

/**
 * An in-process Kubernetes API server for tests (node:http on 127.0.0.1, port 0), following the API's
 * conventions for the resources Canary Mesh uses: GET, LIST (labelSelector), WATCH (chunked JSON lines, replay
 * from a resourceVersion, 410 Expired once history is compacted), POST, PUT (resourceVersion conflicts),
 * merge PATCH (an "Update" by its field manager, as `kubectl edit` does), server-side apply PATCH
 * (application/apply-patch+yaml, fieldManager, force, managedFields ownership -> 409 conflict) and DELETE.
 *
 * Simplifications: field ownership treats every list as atomic; no admission, no finalizers. A small
 * "deployment controller" makes pods for Deployments and reports their rollout, as `podBehaviour` says.
 */

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
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string;
  authorization: string;
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

  constructor(options: FakeApiServerOptions = {}) {
    this.podBehaviour = options.podBehaviour ?? (() => ({ ready: true }));
    this.controllerDelayMs = options.controllerDelayMs ?? 20;
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
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
  }

  /** Forgets the event history: a watch resumed from an older resourceVersion gets 410 Expired. */
  compact(): void {
    this.oldestRv = this.rv + 1;
    this.history.length = 0;
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
    });
    const route = this.route(url.pathname);
    if (!route) return this.status(res, 404, 'NotFound', `the server could not find the requested resource (${url.pathname})`);
    const { type, namespace, name } = route;
    const body = req.method === 'GET' || req.method === 'DELETE' ? '' : await readBody(req);

    if (req.method === 'GET' && name === undefined) {
      const selector = parseSelector(query.labelSelector ?? '');
      if (query.watch === 'true' || query.watch === '1') return this.watch(type, namespace, query.resourceVersion, selector, res);
      const items = this.list(type, namespace).filter((o) => selector(o.metadata.labels ?? {}));
      return this.json(res, 200, {
        apiVersion: apiVersionOf(type),
        kind: `${type.kind}List`,
        metadata: { resourceVersion: String(this.rv) },
        items,
      });
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
        this.update(stored, obj, query.fieldManager ?? 'unknown');
        return this.json(res, 200, stored.object);
      }
      case 'PATCH': {
        if (contentType === 'application/apply-patch+yaml') return this.apply(res, type, namespace, name, stored, body, query);
        if (contentType === 'application/merge-patch+json' || contentType === 'application/strategic-merge-patch+json') {
          if (!stored) return this.notFound(res, type, name);
          const patched = mergePatch(structuredClone(stored.object), JSON.parse(body)) as KubeObject;
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
    const dryRun = query.dryRun === 'All';
    const paths = leafPaths(applied);
    if (!stored) {
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
    fromRv: string | undefined,
    selector: Watcher['selector'],
    res: ServerResponse,
  ): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const from = fromRv === undefined || fromRv === '' || fromRv === '0' ? undefined : Number(fromRv);
    if (from !== undefined && from < this.oldestRv - 1) {
      // As the API server does: the watch opens, sends one ERROR event with a 410 Status, and ends.
      const status = {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `too old resource version: ${from} (${this.oldestRv})`,
        reason: 'Expired',
        code: 410,
      };
      res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      return;
    }
    const w: Watcher = { plural: type.plural, group: type.group, namespace, selector, res };
    if (from === undefined) {
      for (const o of this.list(type, namespace))
        if (selector(o.metadata.labels ?? {})) res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`);
    } else {
      for (const e of this.history)
        if (e.rv > from && this.matches(w, e)) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
    }
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
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

function withoutServerFields(o: KubeObject): unknown {
  const { resourceVersion: _rv, managedFields: _mf, generation: _g, ...metadata } = o.metadata;
  return { ...o, metadata };
}

function fieldsV1(paths: FieldPath[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const p of paths) {
    let cur = root;
    for (const k of p) {
      const f = `f:${k}`;
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
