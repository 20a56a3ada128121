import type { KubeObject } from './kube-object.js';

/**
 * Field paths of an object as server-side apply sees them, simplified: maps are walked, lists and scalars
 * are leaves (atomic, as for custom resources without list-type markers). Identity and server-set fields
 * (name, namespace, resourceVersion, uid, managedFields, ...) and status are not fields anyone owns.
 */

export type FieldPath = string[];

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
  const walk = (value: unknown, path: string[]) => {
    if (isMap(value) && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
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

export function getPath(obj: unknown, path: FieldPath): unknown {
  let cur: unknown = obj;
  for (const k of path) {
    if (!isMap(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

export function setPath(obj: Record<string, unknown>, path: FieldPath, value: unknown): void {
  let cur = obj;
  for (const k of path.slice(0, -1)) {
    if (!isMap(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = structuredClone(value);
}

/** Removes the field and any map left empty above it. */
export function deletePath(obj: Record<string, unknown>, path: FieldPath): void {
  const parents: Record<string, unknown>[] = [];
  let cur: unknown = obj;
  for (const k of path.slice(0, -1)) {
    if (!isMap(cur)) return;
    parents.push(cur);
    cur = cur[k];
  }
  if (!isMap(cur)) return;
  delete cur[path[path.length - 1]!];
  for (let i = parents.length - 1; i >= 0; i--) {
    const child = parents[i]![path[i]!];
    if (isMap(child) && Object.keys(child).length === 0) delete parents[i]![path[i]!];
    else break;
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

/** `.spec.http`, as the API server writes field paths in conflict messages. */
export function formatPath(path: FieldPath): string {
  return path.map((k) => `.${k}`).join('');
}

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
