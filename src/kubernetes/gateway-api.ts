import { RE2JS } from 're2js';
import {
  type ErrorDetail,
  InputError,
  type MatchBlock,
  type Rule,
  ruleVersionProblems,
  type StringMatch,
  singleVersionRules,
} from '../core/index.js';
import { cookieHeaderRegex } from '../renderers/index.js';
import { FIELD_MANAGER, type KubeObject, type KubeService, MANAGED_BY, type ServicePort } from './kube-object.js';

/**
 * Route rules -> a Gateway API HTTPRoute with weighted backendRefs to one Service per version.
 *
 * Istio's VirtualService takes the first rule that matches, in order. Gateway API does not: across all rules
 * it prefers an exact path, then the longest path prefix, then a method match, then the most header matches,
 * then the most query-parameter matches; list order only breaks ties. When that precedence would let a later
 * rule win over an earlier one for some request (and the two route differently), the rules mean something
 * else under Gateway API, so rendering is refused with the pair named, never silently reordered.
 */

export const GATEWAY_API_VERSION = 'gateway.networking.k8s.io/v1';
export const GATEWAY_STICKY_ANNOTATION = 'canary-mesh.io/sticky';
/** Gateway API's limit on rules per HTTPRoute. */
const MAX_RULES = 16;
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

export interface GatewayApiServiceInput {
  name: string;
  port: number;
  versions: { name: string; labels?: Record<string, string> }[];
  /**
   * The Kubernetes Service's own port entry, when there is one: per-version Services copy its targetPort
   * (a container port number or name, e.g. 80 -> 8080 or "http"), name and appProtocol. Default: the same port.
   */
  servicePort?: ServicePort;
}

export interface GatewayApiRenderOptions {
  namespace?: string;
  /**
   * The parent the route attaches to. Default: the Service itself (GAMMA, east-west mesh routing, as Istio
   * implements it); give a Gateway for north-south traffic.
   */
  gateway?: { name: string; namespace?: string; sectionName?: string };
}

export interface HttpRouteMatch {
  path?: { type: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string };
  headers?: { type: 'Exact' | 'RegularExpression'; name: string; value: string }[];
  queryParams?: { type: 'Exact' | 'RegularExpression'; name: string; value: string }[];
  method?: string;
}

export interface HttpBackendRef {
  group: '';
  kind: 'Service';
  name: string;
  port: number;
  weight: number;
}

export interface HttpRouteRule {
  matches?: HttpRouteMatch[];
  backendRefs: HttpBackendRef[];
  filters?: {
    type: 'RequestMirror';
    requestMirror: { backendRef: Omit<HttpBackendRef, 'weight'>; percent?: number; fraction?: { numerator: number; denominator: number } };
  }[];
}

export interface HttpRoute extends KubeObject {
  apiVersion: typeof GATEWAY_API_VERSION;
  kind: 'HTTPRoute';
  spec: {
    parentRefs: { group: string; kind: string; name: string; namespace?: string; port?: number; sectionName?: string }[];
    rules: HttpRouteRule[];
  };
}

/** Name of the Service that selects one version's pods, e.g. `reviews-v2`. */
export function versionServiceName(service: string, version: string): string {
  return `${service}-${version}`;
}

/** One Service per version, selecting `app=<service>, version=<version>` (plus the version's own labels). */
export function renderVersionServices(
  service: GatewayApiServiceInput,
  opts: Pick<GatewayApiRenderOptions, 'namespace'> = {},
): KubeService[] {
  return service.versions.map((v) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: versionServiceName(service.name, v.name),
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      labels: { app: service.name, version: v.name, [MANAGED_BY]: FIELD_MANAGER },
    },
    spec: {
      selector: { app: service.name, version: v.name, ...(v.labels ?? {}) },
      ports: [
        {
          name: service.servicePort?.name ?? 'http',
          port: service.port,
          targetPort: service.servicePort?.targetPort ?? service.port,
          protocol: 'TCP',
          ...(service.servicePort?.appProtocol ? { appProtocol: service.servicePort.appProtocol } : {}),
        },
      ],
    },
  }));
}

/** The HTTPRoute; throws InputError naming every rule that Gateway API cannot express with the same meaning. */
export function renderHttpRoute(service: GatewayApiServiceInput, rules: Rule[], opts: GatewayApiRenderOptions = {}): HttpRoute {
  const inForce = rules.length > 0 ? rules : singleVersionRules(service.versions[0]!.name);
  const problems: ErrorDetail[] = ruleVersionProblems(inForce, service);
  if (inForce.length > MAX_RULES) {
    problems.push({ path: 'rules', message: `Gateway API allows at most ${MAX_RULES} rules in an HTTPRoute, got ${inForce.length}` });
  }
  const backend = (version: string) => ({
    group: '' as const,
    kind: 'Service' as const,
    name: versionServiceName(service.name, version),
    port: service.port,
  });
  const sticky: string[] = [];
  const out = inForce.map((rule, i): HttpRouteRule => {
    const at = `rules.${i}`;
    const r: HttpRouteRule = {
      ...(rule.match && rule.match.length > 0 ? { matches: rule.match.map((b, j) => renderMatch(b, `${at}.match.${j}`, problems)) } : {}),
      backendRefs: rule.route.map((d) => ({ ...backend(d.version), weight: d.weight })),
    };
    if (rule.mirror) {
      const p = rule.mirror.percent;
      r.filters = [
        {
          type: 'RequestMirror',
          requestMirror: {
            backendRef: backend(rule.mirror.version),
            ...(Number.isInteger(p) ? { percent: p } : { fraction: { numerator: Math.round(p * 100), denominator: 10000 } }),
          },
        },
      ];
    }
    if (rule.sticky)
      sticky.push(`rules[${i}] is sticky in Canary Mesh; not rendered: Gateway API session persistence is experimental and per backend`);
    return r;
  });
  problems.push(...precedenceProblems(inForce));
  if (problems.length > 0) throw InputError.fromDetails(problems);

  const parentRef = opts.gateway
    ? {
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        name: opts.gateway.name,
        ...(opts.gateway.namespace ? { namespace: opts.gateway.namespace } : {}),
        ...(opts.gateway.sectionName ? { sectionName: opts.gateway.sectionName } : {}),
      }
    : { group: '', kind: 'Service', name: service.name, port: service.port };
  return {
    apiVersion: GATEWAY_API_VERSION,
    kind: 'HTTPRoute',
    metadata: {
      name: service.name,
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      labels: { [MANAGED_BY]: FIELD_MANAGER },
      ...(sticky.length > 0 ? { annotations: { [GATEWAY_STICKY_ANNOTATION]: sticky.join('; ') } } : {}),
    },
    spec: { parentRefs: [parentRef], rules: out },
  };
}

function renderMatch(block: MatchBlock, path: string, problems: ErrorDetail[]): HttpRouteMatch {
  const m: HttpRouteMatch = {};
  if (block.uri) {
    const u = block.uri;
    if (u.exact !== undefined) m.path = { type: 'Exact', value: u.exact };
    else if (u.prefix !== undefined) {
      // A prefix ending in "/" means the same segment-wise; only the bare "/api" (no slash) then matches too.
      if (u.prefix.endsWith('/')) m.path = { type: 'PathPrefix', value: u.prefix };
      else {
        problems.push({
          path: `${path}.uri.prefix`,
          message:
            `"${u.prefix}" is a string prefix here (it matches "${u.prefix}x") but Gateway API's PathPrefix matches whole path ` +
            `segments only; write "${u.prefix}/" (segments below it) plus an exact "${u.prefix}", or a regex, or use --traffic istio`,
        });
      }
    } else m.path = { type: 'RegularExpression', value: u.regex ?? '' };
  }
  const headers: NonNullable<HttpRouteMatch['headers']> = [];
  const seen = new Set<string>();
  for (const [name, match] of Object.entries(block.headers ?? {})) {
    const lower = name.toLowerCase();
    if (seen.has(lower)) {
      problems.push({
        path: `${path}.headers.${name}`,
        message: `names the same header as another condition; Gateway API takes one match per header`,
      });
      continue;
    }
    seen.add(lower);
    headers.push({ name: lower, ...stringMatch(match) });
  }
  if (block.cookie && Object.keys(block.cookie).length > 0) {
    if (seen.has('cookie')) {
      problems.push({
        path: `${path}.cookie`,
        message: 'cannot be combined with a "cookie" header condition in one block: both become a match on the cookie header',
      });
    } else {
      try {
        headers.push({ name: 'cookie', type: 'RegularExpression', value: cookieHeaderRegex(block.cookie, `${path}.cookie`) });
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        problems.push(...err.details);
      }
    }
  }
  if (headers.length > 0) m.headers = headers;
  const query = Object.entries(block.queryParams ?? {}).map(([name, match]) => ({ name, ...stringMatch(match) }));
  if (query.length > 0) m.queryParams = query;
  if (block.method) {
    const value = block.method.exact?.toUpperCase();
    if (value === undefined || !METHODS.has(value)) {
      problems.push({
        path: `${path}.method`,
        message: `Gateway API matches one exact method (${[...METHODS].join(', ')}), got ${JSON.stringify(block.method)}; split the rule per method`,
      });
    } else m.method = value;
  }
  return m;
}

/** Gateway API has Exact and RegularExpression for headers and query parameters; a prefix becomes the equivalent regex. */
function stringMatch(m: StringMatch): { type: 'Exact' | 'RegularExpression'; value: string } {
  if (m.exact !== undefined) return { type: 'Exact', value: m.exact };
  if (m.prefix !== undefined) return { type: 'RegularExpression', value: `${RE2JS.quote(m.prefix)}.*` };
  return { type: 'RegularExpression', value: m.regex ?? '' };
}

interface Precedence {
  /** 2 exact path, 1 prefix (a block without a path is the prefix "/"), 0 regex (implementation-specific). */
  pathKind: number;
  prefixLength: number;
  method: number;
  headers: number;
  query: number;
}

function precedenceOf(block: MatchBlock | undefined): Precedence {
  const uri = block?.uri;
  const pathKind = !uri || uri.prefix !== undefined ? 1 : uri.exact !== undefined ? 2 : 0;
  const prefixLength = uri?.prefix !== undefined ? Math.max(1, uri.prefix.replace(/\/$/, '').length) : pathKind === 1 ? 1 : 0;
  const headerNames = new Set(Object.keys(block?.headers ?? {}).map((h) => h.toLowerCase()));
  if (block?.cookie && Object.keys(block.cookie).length > 0) headerNames.add('cookie');
  return {
    pathKind,
    prefixLength,
    method: block?.method ? 1 : 0,
    headers: headerNames.size,
    query: Object.keys(block?.queryParams ?? {}).length,
  };
}

/** Why `b` wins over `a` under Gateway API precedence, or undefined when it does not (a tie keeps list order). */
function winsBecause(a: Precedence, b: Precedence): string | undefined {
  if (a.pathKind === 0 || b.pathKind === 0) {
    if (a.pathKind === b.pathKind && a.prefixLength === b.prefixLength) return undefined;
    return 'the precedence of regular-expression paths is implementation-specific';
  }
  if (a.pathKind !== b.pathKind) return b.pathKind > a.pathKind ? 'an exact path match beats a path prefix' : undefined;
  if (a.prefixLength !== b.prefixLength) return b.prefixLength > a.prefixLength ? 'a longer path prefix wins' : undefined;
  if (a.method !== b.method) return b.method > a.method ? 'a method match wins' : undefined;
  if (a.headers !== b.headers) return b.headers > a.headers ? 'more header matches win' : undefined;
  if (a.query !== b.query) return b.query > a.query ? 'more query-parameter matches win' : undefined;
  return undefined;
}

/** Every pair (earlier block, later block) that may match one request and that Gateway API would order the other way. */
export function precedenceProblems(rules: Rule[]): ErrorDetail[] {
  const blocks = rules.flatMap((rule, i) =>
    (rule.match && rule.match.length > 0 ? rule.match : [undefined]).map((block, j) => ({
      rule: i,
      path: rule.match && rule.match.length > 0 ? `rules.${i}.match.${j}` : `rules.${i}`,
      block,
      precedence: precedenceOf(block),
      routes: JSON.stringify([rule.route, rule.mirror ?? null]),
    })),
  );
  const problems: ErrorDetail[] = [];
  for (const [x, early] of blocks.entries()) {
    for (const late of blocks.slice(x + 1)) {
      if (late.rule === early.rule || late.routes === early.routes) continue; // same destination: order cannot matter
      if (!mayOverlap(early.block, late.block)) continue;
      const why = winsBecause(early.precedence, late.precedence);
      if (!why) continue;
      problems.push({
        path: late.path,
        message:
          `comes after ${early.path} here, so a request matching both takes ${early.path}; under Gateway API ${why}, ` +
          `so it would take ${late.path} instead. Reorder the rules so that the more specific one comes first, or use --traffic istio`,
      });
    }
  }
  return problems;
}

/** False only when no request can match both blocks; a block that is undefined matches everything. */
function mayOverlap(a: MatchBlock | undefined, b: MatchBlock | undefined): boolean {
  if (!a || !b) return true;
  if (a.uri && b.uri && !stringsMayOverlap(a.uri, b.uri)) return false;
  if (a.method && b.method && !stringsMayOverlap(upper(a.method), upper(b.method))) return false;
  for (const [map1, map2, fold] of [
    [a.headers, b.headers, true],
    [a.queryParams, b.queryParams, false],
    [a.cookie, b.cookie, false],
  ] as const) {
    const m2 = new Map(Object.entries(map2 ?? {}).map(([k, v]) => [fold ? k.toLowerCase() : k, v]));
    for (const [name, m] of Object.entries(map1 ?? {})) {
      const other = m2.get(fold ? name.toLowerCase() : name);
      if (other && !stringsMayOverlap(m, other)) return false;
    }
  }
  return true;
}

function upper(m: StringMatch): StringMatch {
  return m.exact !== undefined ? { exact: m.exact.toUpperCase() } : m;
}

function stringsMayOverlap(a: StringMatch, b: StringMatch): boolean {
  if (a.regex !== undefined || b.regex !== undefined) return true; // cannot tell cheaply: assume they may
  if (a.exact !== undefined && b.exact !== undefined) return a.exact === b.exact;
  if (a.exact !== undefined) return a.exact.startsWith(b.prefix!);
  if (b.exact !== undefined) return b.exact.startsWith(a.prefix!);
  return a.prefix!.startsWith(b.prefix!) || b.prefix!.startsWith(a.prefix!);
}
