import type { Pool } from 'undici';
import { compileMatch, type BlockMatcher, type OutboundListener, type RouteTable, type Rule } from '../core/index.js';
import type { RequestParty } from './request-observer.js';
import type { UpstreamPools } from './upstream-pools.js';
import { WeightedPicker } from './weighted-picker.js';

export interface CompiledEndpoint {
  address: string;
  /** Who serves requests sent here (service, version, instance), shared by every request's record. */
  party: RequestParty;
  pool: Pool;
}

export interface CompiledVersion {
  service: string;
  name: string;
  /** Ready endpoints only. */
  endpoints: CompiledEndpoint[];
  /** Round-robin position among the endpoints. */
  cursor: number;
}

export const STICKY_NONE = 0;
export const STICKY_COOKIE = 1;
export const STICKY_HEADER = 2;
export const STICKY_SOURCE_IP = 3;

export interface CompiledRule {
  /** null: the rule has no match and takes every request. */
  match: BlockMatcher | null;
  picker: WeightedPicker<CompiledVersion>;
  stickyKind: number;
  /** Cookie name, or lower-case header name, of the sticky key. */
  stickyName: string;
  mirror: CompiledVersion | null;
  mirrorPercent: number;
  /** Bresenham accumulator: mirrors exactly `mirrorPercent`% of requests over time. */
  mirrorCredit: number;
}

export interface ServiceRouter {
  name: string;
  rules: CompiledRule[];
}

export interface IngressPrefix {
  prefix: string;
  router: ServiceRouter;
}

/** A route table compiled for the request path. Immutable apart from picker and cursor state. */
export interface RouteSnapshot {
  revision: number;
  services: Map<string, ServiceRouter>;
  /** Every service's ingress path prefixes, longest first. */
  ingressPrefixes: IngressPrefix[];
  listeners: OutboundListener[];
  /** Endpoint addresses in use, so pools of the others can be closed. */
  addresses: Set<string>;
}

function compileRule(rule: Rule, versions: Map<string, CompiledVersion>, missing: (name: string) => CompiledVersion): CompiledRule {
  const lookup = (name: string) => versions.get(name) ?? missing(name);
  const sticky = rule.sticky;
  let stickyKind = STICKY_NONE;
  let stickyName = '';
  if (sticky && 'cookie' in sticky) {
    stickyKind = STICKY_COOKIE;
    stickyName = sticky.cookie;
  } else if (sticky && 'header' in sticky) {
    stickyKind = STICKY_HEADER;
    stickyName = sticky.header.toLowerCase();
  } else if (sticky && 'sourceIp' in sticky) {
    stickyKind = STICKY_SOURCE_IP;
  }
  return {
    match: rule.match && rule.match.length > 0 ? compileMatch(rule.match) : null,
    picker: new WeightedPicker(rule.route.map((d) => ({ choice: lookup(d.version), weight: d.weight }))),
    stickyKind,
    stickyName,
    mirror: rule.mirror && rule.mirror.percent > 0 ? lookup(rule.mirror.version) : null,
    mirrorPercent: rule.mirror?.percent ?? 0,
    mirrorCredit: 0,
  };
}

/**
 * Compiles a route table once: matchers (regexes included) per rule, a weighted picker per rule, ready endpoints
 * per version with their pools. Throws (and so leaves the running snapshot alone) when a rule cannot compile.
 */
export function compileSnapshot(table: RouteTable, pools: UpstreamPools): RouteSnapshot {
  const services = new Map<string, ServiceRouter>();
  const ingressPrefixes: IngressPrefix[] = [];
  const addresses = new Set<string>();
  for (const svc of table.services) {
    const versions = new Map<string, CompiledVersion>();
    for (const v of svc.versions) {
      const endpoints: CompiledEndpoint[] = [];
      for (const ep of v.endpoints) {
        if (!ep.ready) continue;
        addresses.add(ep.address);
        endpoints.push({
          address: ep.address,
          party: { service: svc.name, version: v.name, instance: ep.instance },
          pool: pools.get(ep.address),
        });
      }
      versions.set(v.name, { service: svc.name, name: v.name, endpoints, cursor: 0 });
    }
    // A rule naming a version the service does not list routes to a version without endpoints: 503.
    const missing = (name: string): CompiledVersion => {
      const v: CompiledVersion = { service: svc.name, name, endpoints: [], cursor: 0 };
      versions.set(name, v);
      return v;
    };
    const rules = svc.rules.map((rule, i) => {
      try {
        return compileRule(rule, versions, missing);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new Error(`route table revision ${table.revision}: service ${svc.name} rule ${i}: ${why}`);
      }
    });
    const router: ServiceRouter = { name: svc.name, rules };
    services.set(svc.name, router);
    for (const prefix of svc.ingressPaths) ingressPrefixes.push({ prefix, router });
  }
  ingressPrefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  return { revision: table.revision, services, ingressPrefixes, listeners: table.listeners, addresses };
}
