import type { OutboundListener, RouteTable, ServiceRoute } from './route-table.js';

/**
 * What changed between two route tables: the `event: delta` of the route-table watch stream. Applied to the table
 * of `fromRevision` it gives the table of `revision` exactly (applyRouteTableDelta). Services are keyed by name,
 * listeners by port; an entry in `upsert` replaces the whole entry of that key (or adds it).
 */
export interface RouteTableDelta {
  fromRevision: number;
  revision: number;
  generatedAt: string;
  services: { upsert: ServiceRoute[]; remove: string[] };
  listeners: { upsert: OutboundListener[]; remove: number[] };
}

const byName = (s: ServiceRoute) => s.name;
const byPort = (l: OutboundListener) => l.port;

/**
 * The delta from `from` to `to`, or null when a delta cannot say it exactly (a key twice in one table, or an order
 * that applying would not reproduce; compiled tables, sorted by name and by port, never hit that): send the whole
 * table then. `serviceKey` gives a service's content for comparison (default its JSON); a caller that already
 * holds each service's JSON passes a lookup, so comparing costs no serialisation.
 */
export function diffRouteTables(
  from: RouteTable,
  to: RouteTable,
  serviceKey: (s: ServiceRoute) => string = (s) => JSON.stringify(s),
): RouteTableDelta | null {
  const services = diffKeyed(from.services, to.services, byName, serviceKey);
  const listeners = diffKeyed(from.listeners, to.listeners, byPort, (l) => JSON.stringify(l));
  if (services === null || listeners === null) return null;
  const delta: RouteTableDelta = {
    fromRevision: from.revision,
    revision: to.revision,
    generatedAt: to.generatedAt,
    services,
    listeners,
  };
  const applied = applyRouteTableDelta(from, delta);
  if (!sameOrder(applied.services, to.services, byName) || !sameOrder(applied.listeners, to.listeners, byPort)) return null;
  return delta;
}

/**
 * The table `delta` leads to from `base` (the table of `delta.fromRevision`; throws otherwise). Entries keep their
 * place; new ones are merged in key order, so a table sorted by key (as compileRouteTable makes them) stays sorted.
 * Unchanged entries are the very objects of `base`.
 */
export function applyRouteTableDelta(base: RouteTable, delta: RouteTableDelta): RouteTable {
  if (delta.fromRevision !== base.revision) {
    throw new Error(`route table delta from revision ${delta.fromRevision} cannot apply to revision ${base.revision}`);
  }
  return {
    revision: delta.revision,
    generatedAt: delta.generatedAt,
    services: applyKeyed(base.services, delta.services.upsert, delta.services.remove, byName),
    listeners: applyKeyed(base.listeners, delta.listeners.upsert, delta.listeners.remove, byPort),
  };
}

/** True when the delta changes nothing but the revision (and the time it was made). */
export function isEmptyRouteTableDelta(delta: RouteTableDelta): boolean {
  const { services: s, listeners: l } = delta;
  return s.upsert.length === 0 && s.remove.length === 0 && l.upsert.length === 0 && l.remove.length === 0;
}

function diffKeyed<T, K extends string | number>(
  from: readonly T[],
  to: readonly T[],
  keyOf: (item: T) => K,
  contentOf: (item: T) => string,
): { upsert: T[]; remove: K[] } | null {
  const before = new Map<K, T>();
  for (const item of from) {
    const k = keyOf(item);
    if (before.has(k)) return null;
    before.set(k, item);
  }
  const upsert: T[] = [];
  const seen = new Set<K>();
  for (const item of to) {
    const k = keyOf(item);
    if (seen.has(k)) return null;
    seen.add(k);
    const old = before.get(k);
    if (old === undefined || (old !== item && contentOf(old) !== contentOf(item))) upsert.push(item);
  }
  const remove: K[] = [];
  for (const k of before.keys()) if (!seen.has(k)) remove.push(k);
  return { upsert, remove };
}

function applyKeyed<T, K extends string | number>(
  base: readonly T[],
  upsert: readonly T[],
  remove: readonly K[],
  keyOf: (item: T) => K,
): T[] {
  if (upsert.length === 0 && remove.length === 0) return base.slice();
  const removed = new Set<K>(remove);
  const replacing = new Map<K, T>();
  for (const item of upsert) replacing.set(keyOf(item), item);
  const kept: T[] = [];
  for (const item of base) {
    const k = keyOf(item);
    if (removed.has(k)) continue;
    const next = replacing.get(k);
    if (next === undefined) kept.push(item);
    else {
      kept.push(next);
      replacing.delete(k);
    }
  }
  if (replacing.size === 0) return kept;
  // What is left is new: merge it in key order.
  const added = [...replacing.values()].sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
  const out: T[] = [];
  let i = 0;
  for (const item of kept) {
    while (i < added.length && compareKeys(keyOf(added[i]!), keyOf(item)) < 0) out.push(added[i++]!);
    out.push(item);
  }
  while (i < added.length) out.push(added[i++]!);
  return out;
}

function compareKeys<K extends string | number>(a: K, b: K): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sameOrder<T>(a: readonly T[], b: readonly T[], keyOf: (item: T) => string | number): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (keyOf(a[i]!) !== keyOf(b[i]!)) return false;
  return true;
}
