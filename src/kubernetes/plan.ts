import { stringify } from 'yaml';
import { FIELD_MANAGER, type KubeObject, describeObject } from './kube-object.js';
import { type FieldPath, changedPaths, formatPath, isMap, sameValue } from './object-fields.js';

/**
 * The dry-run view of a change: for each object, whether it would be created, updated (and which fields),
 * left alone, deleted, or refused because someone else owns it. Pure: the caller reads the current objects.
 */

export type PlanActionKind = 'create' | 'update' | 'unchanged' | 'delete' | 'refuse';

export interface PlanAction {
  action: PlanActionKind;
  /** The object as it would be applied (for delete: as it is now). */
  object: KubeObject;
  /** Fields that would change, e.g. `.spec.http` (update only). */
  changes: string[];
  /** Why it is refused, or taken over (adopt). */
  reason?: string;
}

export interface PlanOptions {
  /** Take over objects Canary Mesh did not create, and fields others changed. */
  adopt?: boolean;
  fieldManager?: string;
}

/** Why applying `desired` over `current` would overwrite someone else's object or fields; undefined when it would not. */
export function ownershipProblem(desired: KubeObject, current: KubeObject, fieldManager = FIELD_MANAGER): string | undefined {
  const managers = current.metadata.managedFields ?? [];
  const ours = managers.some((m) => m.manager === fieldManager && m.operation === 'Apply');
  if (!ours) {
    const others = [...new Set(managers.map((m) => m.manager))];
    return (
      `${describeObject(current)} exists and was not created by Canary Mesh` +
      `${others.length > 0 ? ` (managed by ${others.join(', ')})` : ''}; it is left as it is. Rerun with --adopt to take it over`
    );
  }
  const taken: string[] = [];
  for (const path of changedPaths(desired, current)) {
    for (const m of managers) {
      if (m.manager !== fieldManager && m.fieldsV1 && owns(m.fieldsV1, path)) taken.push(`${formatPath(path)} (by ${m.manager})`);
    }
  }
  if (taken.length === 0) return undefined;
  return `${describeObject(current)} was changed by someone else since Canary Mesh applied it: ${taken.join(', ')}; their change is not overwritten. Rerun with --adopt to overwrite it`;
}

/** Whether a managedFields `fieldsV1` tree covers `path` (or a field below or above it). */
function owns(fields: Record<string, unknown>, path: FieldPath): boolean {
  let cur: unknown = fields;
  for (const k of path) {
    if (!isMap(cur)) return false;
    if (Object.keys(cur).length === 0) return true; // an atomic field above: it covers everything below
    const next = k.startsWith('k:') ? keyedEntry(cur, k) : cur[`f:${k}`];
    if (next === undefined) return false;
    cur = next;
  }
  return true;
}

/**
 * The managedFields entry of a keyed-list element: `k:{"port":80}` also finds a real server's
 * `k:{"port":80,"protocol":"TCP"}` (it keys Service ports by port and protocol).
 */
function keyedEntry(fields: Record<string, unknown>, segment: string): unknown {
  if (segment in fields) return fields[segment];
  const want = JSON.parse(segment.slice(2)) as Record<string, unknown>;
  for (const [k, v] of Object.entries(fields)) {
    if (!k.startsWith('k:')) continue;
    try {
      const have = JSON.parse(k.slice(2)) as Record<string, unknown>;
      if (Object.entries(want).every(([f, x]) => have[f] === x)) return v;
    } catch {
      // not a key we can read: not ours to match
    }
  }
  return undefined;
}

/** Plans applying `desired` (current[i] is the object now, or undefined) and deleting `deletes` (as they are now). */
export function planChanges(
  desired: KubeObject[],
  current: (KubeObject | undefined)[],
  deletes: KubeObject[] = [],
  opts: PlanOptions = {},
): PlanAction[] {
  const actions: PlanAction[] = desired.map((object, i): PlanAction => {
    const now = current[i];
    if (!now) return { action: 'create', object, changes: [] };
    const changes = changedPaths(object, now).map(formatPath);
    const immutable = immutableChange(object, now);
    if (immutable) return { action: 'refuse', object, changes, reason: immutable };
    const problem = ownershipProblem(object, now, opts.fieldManager);
    if (problem && !opts.adopt) return { action: 'refuse', object, changes, reason: problem };
    if (changes.length === 0 && !problem) return { action: 'unchanged', object, changes };
    return { action: 'update', object, changes, ...(problem ? { reason: `adopted: ${problem.split(';')[0]}` } : {}) };
  });
  for (const object of deletes) {
    const ours = (object.metadata.managedFields ?? []).some((m) => m.manager === (opts.fieldManager ?? FIELD_MANAGER));
    if (ours || opts.adopt) actions.push({ action: 'delete', object, changes: [] });
    else
      actions.push({
        action: 'refuse',
        object,
        changes: [],
        reason: `${describeObject(object)} was not created by Canary Mesh; it is not deleted. Rerun with --adopt to delete it`,
      });
  }
  return actions;
}

/**
 * A change the API server would refuse whoever asks (422 Invalid), so --adopt cannot help either: a
 * Deployment's spec.selector is immutable in apps/v1.
 */
function immutableChange(desired: KubeObject, current: KubeObject): string | undefined {
  if (desired.kind !== 'Deployment') return undefined;
  const want = (desired.spec as { selector?: unknown } | undefined)?.selector;
  const have = (current.spec as { selector?: unknown } | undefined)?.selector;
  if (want === undefined || sameValue(want, have)) return undefined;
  return (
    `${describeObject(current)} exists with another spec.selector (${JSON.stringify(have)}, this change needs ${JSON.stringify(want)}), ` +
    `and a Deployment's selector cannot be changed; delete it first (kubectl delete deployment ${current.metadata.name}` +
    `${current.metadata.namespace ? ` -n ${current.metadata.namespace}` : ''}) if it may go`
  );
}

/** The plan as text: one line per action, then the YAML of every object that would be created or updated. */
export function formatPlan(actions: PlanAction[]): string {
  const lines = actions.map((a) => {
    const what = `${a.action.padEnd(9)} ${describeObject(a.object)}`;
    const detail = a.action === 'update' && a.changes.length > 0 ? ` (${a.changes.join(', ')})` : '';
    return `${what}${detail}${a.reason ? `\n          ${a.reason}` : ''}`;
  });
  const docs = actions.filter((a) => a.action === 'create' || a.action === 'update').map((a) => toYaml(a.object));
  return `${lines.join('\n')}\n${docs.length > 0 ? `---\n${docs.join('---\n')}` : ''}`;
}

/** kubectl-like YAML of one object. */
export function toYaml(obj: KubeObject): string {
  return stringify(obj, { indentSeq: false, lineWidth: 0 });
}
