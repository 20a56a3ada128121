import type { Pool } from 'undici';
import { type CompareSettings, type CompiledCompare, compileCompare, DEFAULT_COMPARE } from '../core/comparison/compare-answers.js';
import type { Rule } from '../core/model.js';
import type { OutboundListener, RouteTable, ServiceRoute } from '../core/route-table.js';
import { compileMatch, type BlockMatcher, type SharedMatchers } from '../core/string-match.js';
import type { RequestParty } from './request-observer.js';
import type { Http1Pool } from './http1-upstream.js';
import type { EndpointHealth, OutlierDetector, VersionHealth } from './outlier-detector.js';
import type { UpstreamPools } from './upstream-pools.js';
import { WeightedPicker } from './weighted-picker.js';

/** A ready endpoint; its connection pools are made on first use (most endpoints of a big table never see one). */
export class CompiledEndpoint {
  private undiciPool: Pool | null = null;
  private http1Pool: Http1Pool | null = null;

  constructor(
    readonly address: string,
    /** Who serves requests sent here (service, version, instance), shared by every request's record. */
    readonly party: RequestParty,
    private readonly pools: UpstreamPools,
    /** What outlier detection has learnt about this address in this version (outlives snapshots). */
    readonly health: EndpointHealth,
  ) {}

  /** The undici pool (node:http path, mirrors). */
  get pool(): Pool {
    this.undiciPool ??= this.pools.get(this.address);
    return this.undiciPool;
  }

  /** The fast path's HTTP/1.1 pool. */
  get fastPool(): Http1Pool {
    const p = this.http1Pool;
    if (p !== null && !p.isClosed) return p;
    this.http1Pool = this.pools.http1(this.address);
    return this.http1Pool;
  }
}

/**
 * The caller behind an outbound listener, pid included when the table has it: made once per listener (and again
 * when the listener's entry changes, as a restarted instance's new pid does), shared by every request's record.
 */
export function listenerParty(l: OutboundListener): RequestParty {
  return { service: l.service, version: l.version, instance: l.instance, pid: l.pid };
}

/** True when `party` already stands for listener `l` (same instance, same process): it can be kept. */
export function isListenerParty(party: RequestParty | null, l: OutboundListener): boolean {
  return (
    party !== null && party.service === l.service && party.version === l.version && party.instance === l.instance && party.pid === l.pid
  );
}

export interface CompiledVersion {
  service: string;
  name: string;
  /** Ready endpoints only. */
  endpoints: CompiledEndpoint[];
  /** Round-robin position among the endpoints. */
  cursor: number;
  /** Outlier detection's view of the version (how many endpoints are ejected now). */
  health: VersionHealth;
}

/**
 * The version's next endpoint in round-robin order, skipping ejected ones (outlier detection); undefined when it
 * has none in service. While nothing is ejected this is the plain round-robin step.
 */
export function nextEndpoint(version: CompiledVersion): CompiledEndpoint | undefined {
  const endpoints = version.endpoints;
  const n = endpoints.length;
  if (n === 0) return undefined;
  if (version.health.ejected === 0) {
    const endpoint = endpoints[version.cursor]!;
    version.cursor = version.cursor + 1 >= n ? 0 : version.cursor + 1;
    return endpoint;
  }
  const detector = version.health.detector;
  const now = detector.clock();
  for (let i = 0; i < n; i++) {
    const endpoint = endpoints[version.cursor]!;
    version.cursor = version.cursor + 1 >= n ? 0 : version.cursor + 1;
    if (detector.available(endpoint.health, now)) return endpoint;
  }
  return undefined;
}

/**
 * Where a retry goes: the endpoint after `failed` in the version's order that is in service, or `failed` itself
 * when `sameAllowed` and no other is (the shared cursor stays put, so other requests keep their rotation).
 */
export function retryEndpoint(version: CompiledVersion, failed: CompiledEndpoint, sameAllowed: boolean): CompiledEndpoint | undefined {
  const endpoints = version.endpoints;
  const n = endpoints.length;
  const at = endpoints.indexOf(failed);
  const detector = version.health.detector;
  const now = version.health.ejected === 0 ? 0 : detector.clock();
  for (let i = 1; i < n; i++) {
    const endpoint = endpoints[(at + i) % n]!;
    if (endpoint !== failed && (now === 0 || detector.available(endpoint.health, now))) return endpoint;
  }
  return sameAllowed ? failed : undefined;
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

/**
 * One service's routing. Its rules are compiled on the first request that reaches the service (their regexes are
 * checked when the table is applied, so a table that cannot compile is still refused as a whole): in a table of a
 * thousand services, most of which this proxy never routes to, the RE2 programs of the others are never built.
 */
export class ServiceRouter {
  private compiled: CompiledRule[] | null = null;
  /** The route-table entry this router was last confirmed for (by identity, then by content). */
  entry: ServiceRoute | null = null;
  private source: Rule[] | null;
  private versions: Map<string, CompiledVersion> | null;
  private shared: SharedMatchers | null;
  private detector: OutlierDetector | null;
  private compiledCompare: CompiledCompare | null = null;

  constructor(
    readonly name: string,
    /** The release that owns the service's routes, or null (named in its mirror comparisons). */
    readonly release: string | null,
    /** How mirrored answers are compared (the release's `compare`, else the defaults). */
    private readonly compareSettings: CompareSettings | undefined,
    /** The service's route-table entry as JSON: an unchanged service keeps its router across snapshots. */
    readonly contentKey: string,
    /** Ready endpoint addresses of every version. */
    readonly addresses: string[],
    /** Each version's outlier state and its ready addresses (the detector forgets what no table has). */
    readonly health: Map<VersionHealth, Set<string>>,
    versions: Map<string, CompiledVersion>,
    rules: Rule[],
    /** Matchers of the snapshot's services, shared between identical match blocks. */
    shared: SharedMatchers,
    detector: OutlierDetector,
  ) {
    this.versions = versions;
    this.source = rules;
    this.shared = shared;
    this.detector = detector;
  }

  /** The comparison of mirrored answers, compiled on the first mirrored request. */
  get compare(): CompiledCompare {
    this.compiledCompare ??= compileCompare(this.compareSettings ?? DEFAULT_COMPARE);
    return this.compiledCompare;
  }

  /** The compiled rules, first match wins. */
  get rules(): CompiledRule[] {
    return this.compiled ?? this.compile();
  }

  private compile(): CompiledRule[] {
    const versions = this.versions!;
    const service = this.name;
    // A rule naming a version the service does not list routes to a version without endpoints: 503.
    const detector = this.detector!;
    const missing = (name: string): CompiledVersion => {
      const v: CompiledVersion = { service, name, endpoints: [], cursor: 0, health: detector.version(service, name) };
      versions.set(name, v);
      return v;
    };
    const shared = this.shared!;
    const compiled = this.source!.map((rule) => compileRule(rule, versions, missing, shared));
    this.compiled = compiled;
    this.source = null;
    this.versions = null;
    this.shared = null;
    this.detector = null;
    return compiled;
  }
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
  /** Outlier state in use (version -> ready addresses), so the detector can forget the rest. */
  health: Map<VersionHealth, Set<string>>;
}

function compileRule(
  rule: Rule,
  versions: Map<string, CompiledVersion>,
  missing: (name: string) => CompiledVersion,
  shared: SharedMatchers,
): CompiledRule {
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
    match: rule.match && rule.match.length > 0 ? compileMatch(rule.match, shared) : null,
    picker: new WeightedPicker(rule.route.map((d) => ({ choice: lookup(d.version), weight: d.weight }))),
    stickyKind,
    stickyName,
    mirror: rule.mirror && rule.mirror.percent > 0 ? lookup(rule.mirror.version) : null,
    mirrorPercent: rule.mirror?.percent ?? 0,
    mirrorCredit: 0,
  };
}

function compileService(
  svc: ServiceRoute,
  contentKey: string,
  revision: number,
  pools: UpstreamPools,
  shared: SharedMatchers,
  detector: OutlierDetector,
): ServiceRouter {
  const versions = new Map<string, CompiledVersion>();
  const addresses: string[] = [];
  const health = new Map<VersionHealth, Set<string>>();
  const policy = svc.outlierDetection;
  for (const v of svc.versions) {
    const endpoints: CompiledEndpoint[] = [];
    let ready = 0;
    for (const ep of v.endpoints) if (ep.ready) ready++;
    const vh = detector.version(svc.name, v.name, policy, ready);
    const kept = new Set<string>();
    for (const ep of v.endpoints) {
      if (!ep.ready) continue;
      addresses.push(ep.address);
      kept.add(ep.address);
      // pid is always set (undefined when unknown), so every party has one shape.
      const party = { service: svc.name, version: v.name, instance: ep.instance, pid: ep.pid };
      endpoints.push(new CompiledEndpoint(ep.address, party, pools, detector.endpoint(vh, ep.address, ep.instance)));
    }
    health.set(vh, kept);
    versions.set(v.name, { service: svc.name, name: v.name, endpoints, cursor: 0, health: vh });
  }
  // Checked now, compiled on first use: the matchers built here are dropped.
  svc.rules.forEach((rule, i) => {
    if (!rule.match || rule.match.length === 0) return;
    try {
      compileMatch(rule.match);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new Error(`route table revision ${revision}: service ${svc.name} rule ${i}: ${why}`);
    }
  });
  return new ServiceRouter(svc.name, svc.release, svc.compare, contentKey, addresses, health, versions, svc.rules, shared, detector);
}

/**
 * Compiles a route table: ready endpoints per version, and per service a router whose matchers (regexes included)
 * and weighted pickers are built on its first request. Throws (and so leaves the running snapshot alone) when a
 * rule cannot compile. With `previous`, a service whose entry is unchanged keeps its router (matchers, RE2
 * programs, picker state), so a change to one service of a thousand costs one.
 */
export function compileSnapshot(
  table: RouteTable,
  pools: UpstreamPools,
  detector: OutlierDetector,
  previous?: RouteSnapshot,
): RouteSnapshot {
  const services = new Map<string, ServiceRouter>();
  const ingressPrefixes: IngressPrefix[] = [];
  const addresses = new Set<string>();
  const health = new Map<VersionHealth, Set<string>>();
  const before = previous?.services;
  const shared: SharedMatchers = new Map();
  for (const svc of table.services) {
    const old = before?.get(svc.name);
    let router: ServiceRouter;
    // A delta from the control plane leaves unchanged services as the very same objects: then no JSON is needed.
    if (old !== undefined && old.entry === svc) router = old;
    else {
      const contentKey = JSON.stringify(svc);
      router =
        old !== undefined && old.contentKey === contentKey ? old : compileService(svc, contentKey, table.revision, pools, shared, detector);
      router.entry = svc;
    }
    for (const a of router.addresses) addresses.add(a);
    for (const [vh, kept] of router.health) health.set(vh, kept);
    services.set(svc.name, router);
    for (const prefix of svc.ingressPaths) ingressPrefixes.push({ prefix, router });
  }
  ingressPrefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  return { revision: table.revision, services, ingressPrefixes, listeners: table.listeners, addresses, health };
}
