import { randomUUID } from 'node:crypto';
import { cookieValue } from '../core/cookie.js';
import {
  absoluteTarget,
  emptyTraceHeaderIndexes,
  hostFirstLabel,
  type RequestHeaderFacts,
  upgradeRequestHeaders,
  upstreamRequestHeaders,
} from './forward-headers.js';
import type { MirrorComparisons } from './mirror/mirror-comparisons.js';
import { type MirrorCopy, startMirrorCopy } from './mirror/mirror-copy.js';
import type { ProxyErrorCode } from './request-outcome.js';
import type { RequestParty } from './request-observer.js';
import { ReusableRequestView } from './request-view.js';
import {
  type CompiledEndpoint,
  type CompiledRule,
  type CompiledVersion,
  nextEndpoint,
  type RouteSnapshot,
  STICKY_COOKIE,
  STICKY_HEADER,
  STICKY_NONE,
  type ServiceRouter,
} from './route-snapshot.js';
import { emptyHopTrace, type HopTrace, type ProxyTracer } from './telemetry/proxy-tracer.js';

/** What a listener tells routing about its requests. */
export interface ListenerState {
  /** The caller: null for the ingress. */
  source: RequestParty | null;
  ingress: boolean;
}

/** What routing decided for one request; one scratch object per proxy (routing is synchronous). */
export interface RouteDecision {
  /** 0: forward; else the status the proxy answers itself (404, 503). */
  status: number;
  code: ProxyErrorCode;
  message: string;
  headers: string[];
  url: string;
  path: string;
  hasBody: boolean;
  router: ServiceRouter | undefined;
  version: CompiledVersion | undefined;
  versionName: string;
  endpoint: CompiledEndpoint | undefined;
  /** The copy of this request for the rule's mirror, when one was picked; the request path sends it. */
  mirror: MirrorCopy | null;
}

function newRequestId(): string {
  return randomUUID();
}

/**
 * Routing, shared by the fast path, node:http and upgrades: reads the snapshot in force, rewrites the headers,
 * finds the service and rule, picks a version and an endpoint, sends the mirror copy.
 */
export class RequestRouter {
  /** The compiled route table in force; MeshProxy swaps it, each request reads it once. */
  snapshot: RouteSnapshot;
  /** The current request's trace identity, or null without a tracer (scratch: routing is synchronous). */
  readonly hop: HopTrace | null;
  private readonly decision: RouteDecision = {
    status: 0,
    code: 'no-route',
    message: '',
    headers: [],
    url: '',
    path: '',
    hasBody: false,
    router: undefined,
    version: undefined,
    versionName: '',
    endpoint: undefined,
    mirror: null,
  };
  private readonly view = new ReusableRequestView();
  private readonly facts: RequestHeaderFacts = { host: '', hasBody: false, hostIndex: -1, trace: emptyTraceHeaderIndexes() };
  private readonly scratchHop: HopTrace = emptyHopTrace();

  constructor(
    snapshot: RouteSnapshot,
    private readonly tracer: ProxyTracer | null,
    private readonly mirrors: MirrorComparisons,
  ) {
    this.snapshot = snapshot;
    this.hop = tracer === null ? null : this.scratchHop;
  }

  /** Fills the router's scratch decision for one request head and returns it (valid until the next call). */
  decide(
    method: string,
    rawUrl: string,
    raw: readonly string[],
    clientAddress: string,
    listener: ListenerState,
    upgrade = false,
  ): RouteDecision {
    const d = this.decision;
    const snap = this.snapshot;
    let url = rawUrl;
    const facts = this.facts;
    const headers = upgrade
      ? upgradeRequestHeaders(raw, clientAddress, newRequestId, facts)
      : upstreamRequestHeaders(raw, clientAddress, newRequestId, facts);
    let host = facts.host;
    const hasBody = facts.hasBody;
    let hostIndex = facts.hostIndex;
    const tracer = this.tracer;
    if (tracer !== null) tracer.begin(headers, facts.trace, this.scratchHop);
    if (url.charCodeAt(0) !== 47 /* / */) {
      // Absolute form (a client using the proxy as its HTTP proxy): the URL's authority replaces Host (RFC 9112 3.2.2).
      const target = absoluteTarget(url);
      if (target !== null) {
        url = target.path;
        host = target.authority;
        if (hostIndex >= 0) headers[hostIndex] = host;
        else hostIndex = headers.push('host', host) - 1;
      }
    }
    d.headers = headers;
    d.url = url;
    d.hasBody = hasBody;
    d.mirror = null;
    d.version = undefined;
    d.endpoint = undefined;
    d.versionName = '';

    const view = this.view;
    view.reset(method, url, raw);
    let router: ServiceRouter | undefined = host === '' ? undefined : snap.services.get(hostFirstLabel(host));
    if (router === undefined && listener.ingress) {
      const path = view.path;
      const prefixes = snap.ingressPrefixes;
      for (let i = 0; i < prefixes.length; i++) {
        if (path.startsWith(prefixes[i]!.prefix)) {
          router = prefixes[i]!.router;
          break;
        }
      }
    }
    d.router = router;
    let rule: CompiledRule | undefined;
    if (router !== undefined) {
      const rules = router.rules;
      for (let i = 0; i < rules.length; i++) {
        const r = rules[i]!;
        if (r.match === null || r.match(view)) {
          rule = r;
          break;
        }
      }
    }
    if (rule === undefined) {
      const path = view.path;
      view.clear();
      const why = router === undefined ? 'no service by that name or ingress path' : `no rule of service ${router.name} matches`;
      d.status = 404;
      d.code = 'no-route';
      d.message = `no route for host ${host || '(none)'} path ${path}: ${why}`;
      d.path = path;
      return d;
    }
    let version: CompiledVersion | undefined;
    if (rule.stickyKind === STICKY_NONE) {
      version = rule.picker.next();
    } else {
      const key =
        rule.stickyKind === STICKY_COOKIE
          ? cookieValue(view.header('cookie'), rule.stickyName)
          : rule.stickyKind === STICKY_HEADER
            ? view.header(rule.stickyName)
            : clientAddress;
      version = key ? rule.picker.sticky(key) : rule.picker.next();
    }
    const path = view.path;
    view.clear();
    d.path = path;
    const endpoint = version === undefined ? undefined : nextEndpoint(version);
    if (endpoint === undefined) {
      const name = version === undefined ? '(none)' : version.name;
      d.status = 503;
      d.code = 'no-ready-endpoint';
      d.message =
        version !== undefined && version.endpoints.length > 0
          ? `no endpoint in service for service ${router!.name} version ${name}: all ${version.endpoints.length} ejected by outlier detection`
          : `no ready endpoint for service ${router!.name} version ${name}`;
      d.versionName = name;
      return d;
    }
    d.status = 0;
    d.version = version;
    d.endpoint = endpoint;

    const mirror = rule.mirror;
    // Upgrades are not mirrored: a copy would open a second tunnel nobody reads.
    if (mirror !== null && !upgrade) {
      this.mirrors.of(router!.name, router!.release).requests++;
      rule.mirrorCredit += rule.mirrorPercent;
      if (rule.mirrorCredit >= 100) {
        rule.mirrorCredit -= 100;
        d.mirror = startMirrorCopy(this.mirrors, router!, mirror, method, url, path, headers, hostIndex, host);
      }
    }
    return d;
  }
}
