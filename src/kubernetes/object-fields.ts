import type { KubeObject } from './kube-object.js';

/**
 * Field paths of an object as server-side apply sees them, simplified: maps are walked; the lists the built-in
 * kinds declare as maps keyed by a field (`x-kubernetes-list-type: map`: containers and env by name, Service
 * ports by port, ...) are walked entry by entry, an entry's segment written as in managedFields,
 * `k:{"name":"reviews"}`; other lists (and every list of a custom resource such as a VirtualService, whose
 * CRD declares none) and scalars are leaves (atomic). Identity and server-set fields (name, namespace,
 * resourceVersion, uid, managedFields, ...) and status are not fields anyone owns.
 */

export type FieldPath = string[];

/** Kinds whose keyed lists are merged by key; custom resources' lists stay atomic. */
const BUILT_IN_KINDS = new Set(['Deployment', 'Service', 'Pod']);
const BY_NAME = new Set(['containers', 'initContainers', 'ephemeralContainers', 'env', 'volumes', 'imagePullSecrets']);

/**
 * The key fields of the list at `path`, or undefined when it is atomic. Simplified: a container's ports are
 * keyed by containerPort and a Service's by port (the API adds protocol, which is TCP here).
 */
function listKeys(path: FieldPath): string[] | undefined {
  const field = path[path.length - 1] ?? '';
  if (BY_NAME.has(field)) return ['name'];
  if (field === 'volumeMounts') return ['mountPath'];
  if (field === 'ports') return path[path.length - 2]?.startsWith('k:') ? ['containerPort'] : ['port'];
  return undefined;
}

function keySegment(item: Record<string, unknown>, keys: string[]): string {
  return `k:${JSON.stringify(Object.fromEntries(keys.map((k) => [k, item[k]])))}`;
}

function matchesKey(item: unknown, segment: string): item is Record<string, unknown> {
  if (!isMap(item)) return false;
  const key = JSON.parse(segment.slice(2)) as Record<string, unknown>;
  return Object.entries(key).every(([k, v]) => item[k] === v);
}

const SERVER_METADATA = new Set([
  'name',
  'namespace',
  'resourceVersion',
  'uid',
  'managedFields',
  'creationTimestamp',
  'generation',
  'selfLink',
]);

export function leafPaths(obj: KubeObject): FieldPath[] {
  const out: FieldPath[] = [];
  const keyed = BUILT_IN_KINDS.has(obj.kind);
  const walk = (value: unknown, path: string[]) => {
    const keys = keyed && Array.isArray(value) && value.length > 0 ? listKeys(path) : undefined;
    if (isMap(value) && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    } else if (keys && (value as unknown[]).every((item) => isMap(item) && keys.every((k) => item[k] !== undefined))) {
      for (const item of value as Record<string, unknown>[]) {
        const segment = keySegment(item, keys);
        for (const [k, v] of Object.entries(item)) walk(v, [...path, segment, k]);
      }
    } else out.push(path);
  };
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'status') continue;
    if (k === 'metadata' && isMap(v)) {
      for (const [mk, mv] of Object.entries(v)) if (!SERVER_METADATA.has(mk)) walk(mv, ['metadata', mk]);
    } else walk(v, [k]);
  }
  return out;
}

/** One step down: a map's field, or a keyed list's entry. */
function child(cur: unknown, segment: string): unknown {
  if (segment.startsWith('k:') && Array.isArray(cur)) return cur.find((item) => matchesKey(item, segment));
  return isMap(cur) ? cur[segment] : undefined;
}

export function getPath(obj: unknown, path: FieldPath): unknown {
  let cur: unknown = obj;
  for (const k of path) {
    cur = child(cur, k);
    if (cur === undefined) return undefined;
  }
  return cur;
}

export function setPath(obj: Record<string, unknown>, path: FieldPath, value: unknown): void {
  let cur: Record<string, unknown> | unknown[] = obj;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    const wantList = path[i + 1]!.startsWith('k:');
    let next = child(cur, k);
    if (wantList ? !Array.isArray(next) : !isMap(next)) {
      if (Array.isArray(cur)) {
        // A new entry of a keyed list starts with its key fields.
        next = JSON.parse(k.slice(2)) as Record<string, unknown>;
        cur.push(next);
      } else {
        next = wantList ? [] : {};
        cur[k] = next;
      }
    }
    cur = next as Record<string, unknown> | unknown[];
  }
  if (!Array.isArray(cur)) cur[path[path.length - 1]!] = structuredClone(value);
}

/** Removes the field, and any map (or keyed-list entry left with its key only, or list left empty) above it. */
export function deletePath(obj: Record<string, unknown>, path: FieldPath): void {
  const chain: unknown[] = [obj];
  for (const k of path.slice(0, -1)) {
    const next = child(chain[chain.length - 1], k);
    if (next === undefined) return;
    chain.push(next);
  }
  const last = chain[chain.length - 1];
  if (!isMap(last)) return;
  delete last[path[path.length - 1]!];
  for (let i = chain.length - 1; i > 0; i--) {
    const node = chain[i];
    const parent = chain[i - 1];
    const segment = path[i - 1]!;
    const keyOnly = segment.startsWith('k:') && isMap(node) && Object.keys(node).every((k) => k in JSON.parse(segment.slice(2)));
    const empty = (isMap(node) && Object.keys(node).length === 0) || (Array.isArray(node) && node.length === 0) || keyOnly;
    if (!empty) break;
    if (Array.isArray(parent)) parent.splice(parent.indexOf(node), 1);
    else if (isMap(parent)) delete parent[segment];
  }
}

/** Deep equality of JSON values (key order ignored). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  }
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && sameValue(a[k], b[k]));
  }
  return false;
}

/** Paths of `desired` whose value differs in `current`: what applying `desired` would change. */
export function changedPaths(desired: KubeObject, current: KubeObject): FieldPath[] {
  return leafPaths(desired).filter((p) => !sameValue(getPath(desired, p), getPath(current, p)));
}

/** `.spec.http`, `.spec.ports[port=80].targetPort`, as the API server writes field paths in conflict messages. */
export function formatPath(path: FieldPath): string {
  return path
    .map((k) => {
      if (!k.startsWith('k:')) return `.${k}`;
      const key = JSON.parse(k.slice(2)) as Record<string, unknown>;
      return `[${Object.entries(key)
        .map(([f, v]) => `${f}=${JSON.stringify(v)}`)
        .join(',')}]`;
    })
    .join('');
}

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
