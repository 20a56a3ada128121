import { RE2JS } from 're2js';
import { stringify } from 'yaml';
import {
  type ErrorDetail,
  InputError,
  type MatchBlock,
  type OutlierDetection,
  outlierDetectionOn,
  outlierPolicy,
  type Rule,
  ruleVersionProblems,
  type Service,
  type StringMatch,
  singleVersionRules,
  stableVersion,
} from '../core/index.js';
import { cookieHeaderRegex } from './cookie-regex.js';

/**
 * Renders a service's route rules as the Istio objects that route the same way: a VirtualService (one HTTP
 * route per rule, in rule order, destinations by subset) and a DestinationRule (one subset per version,
 * selected by the `version` label). What Istio cannot express is said in an annotation, never silently dropped.
 */

export const ISTIO_API_VERSION = 'networking.istio.io/v1beta1';
/** Annotation on the VirtualService explaining sticky rules that Istio cannot honour across subsets. */
export const STICKY_ANNOTATION = 'canary-mesh.io/sticky';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

export interface IstioRenderOptions {
  /** metadata.namespace of both objects; omitted when not given (kubectl applies them to the current one). */
  namespace?: string;
  /**
   * Gateways (`namespace/name`) the VirtualService also binds to, besides the mesh. Default none: the rules
   * apply to calls between workloads of the mesh only (Istio's `mesh` default), not to requests entering
   * through an ingress gateway.
   */
  gateways?: string[];
  /** Further hosts the VirtualService answers for (names requests carry through the gateways, e.g. bookinfo.example.com). */
  hosts?: string[];
}

/** The parts of a service the renderer reads. */
export type IstioServiceInput = Pick<Service, 'name' | 'port' | 'versions'> & { outlierDetection?: OutlierDetection };

export type IstioStringMatch = { exact: string } | { prefix: string } | { regex: string };

export interface IstioMatchRequest {
  uri?: IstioStringMatch;
  method?: IstioStringMatch;
  headers?: Record<string, IstioStringMatch>;
  queryParams?: Record<string, IstioStringMatch>;
}

export interface IstioDestination {
  host: string;
  port: { number: number };
  subset: string;
}

export interface IstioHttpRoute {
  match?: IstioMatchRequest[];
  route: { destination: IstioDestination; weight: number }[];
  mirror?: IstioDestination;
  mirrorPercentage?: { value: number };
}

export interface IstioMetadata {
  name: string;
  namespace?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface IstioVirtualService {
  apiVersion: typeof ISTIO_API_VERSION;
  kind: 'VirtualService';
  metadata: IstioMetadata;
  spec: { hosts: string[]; gateways?: string[]; http: IstioHttpRoute[] };
}

/** Istio's `trafficPolicy.outlierDetection` (durations as Istio writes them, e.g. "30s"). */
export interface IstioOutlierDetection {
  consecutive5xxErrors: number;
  consecutiveGatewayErrors: number;
  interval: string;
  baseEjectionTime: string;
  maxEjectionPercent: number;
}

export interface IstioDestinationRule {
  apiVersion: typeof ISTIO_API_VERSION;
  kind: 'DestinationRule';
  metadata: IstioMetadata;
  spec: {
    host: string;
    trafficPolicy?: { outlierDetection: IstioOutlierDetection };
    subsets: { name: string; labels: Record<string, string> }[];
  };
}

export interface IstioObjects {
  virtualService: IstioVirtualService;
  destinationRule: IstioDestinationRule;
}

/**
 * The two objects as plain data. `rules` are the rules in force (e.g. core's `effectiveRules`); an empty list
 * means the service's stable version takes everything, as in the proxy.
 * Throws InputError when a rule names an unknown version or a block cannot be expressed in Istio.
 */
export function renderIstioObjects(service: IstioServiceInput, rules: Rule[], opts: IstioRenderOptions = {}): IstioObjects {
  const inForce = rules.length > 0 ? rules : singleVersionRules(stableVersion(service));
  const problems: ErrorDetail[] = ruleVersionProblems(inForce, service);
  const destination = (version: string): IstioDestination => ({ host: service.name, port: { number: service.port }, subset: version });

  const sticky: string[] = [];
  const http = inForce.map((rule, i): IstioHttpRoute => {
    const at = `rules.${i}`;
    // Keys in Istio's usual order: match, route, mirror.
    const route: IstioHttpRoute = {
      ...(rule.match && rule.match.length > 0
        ? { match: rule.match.map((block, j) => renderMatch(block, `${at}.match.${j}`, problems)) }
        : {}),
      route: rule.route.map((d) => ({ destination: destination(d.version), weight: d.weight })),
    };
    if (rule.mirror) {
      route.mirror = destination(rule.mirror.version);
      route.mirrorPercentage = { value: rule.mirror.percent };
    }
    if (rule.sticky) sticky.push(`http[${i}] is sticky by ${describeSticky(rule.sticky)}`);
    return route;
  });
  if (problems.length > 0) throw InputError.fromDetails(problems);

  const metadata = (): IstioMetadata => ({
    name: service.name,
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    labels: { [MANAGED_BY_LABEL]: 'canary-mesh' },
  });
  const vsMetadata = metadata();
  if (sticky.length > 0) {
    vsMetadata.annotations = {
      [STICKY_ANNOTATION]:
        `${sticky.join('; ')} in Canary Mesh; not rendered: Istio's consistent hashing (DestinationRule ` +
        'trafficPolicy.loadBalancer.consistentHash) picks among the endpoints of one subset, never across subsets, ' +
        'so under Istio every request is split by weight on its own and a user may see both versions',
    };
  }
  return {
    virtualService: {
      apiVersion: ISTIO_API_VERSION,
      kind: 'VirtualService',
      metadata: vsMetadata,
      spec: {
        hosts: [service.name, ...(opts.hosts ?? []).filter((h) => h !== service.name)],
        // Naming gateways replaces Istio's implicit `mesh`: keep it, so calls inside the mesh stay routed too.
        ...(opts.gateways?.length ? { gateways: [...opts.gateways.filter((g) => g !== 'mesh'), 'mesh'] } : {}),
        http,
      },
    },
    destinationRule: {
      apiVersion: ISTIO_API_VERSION,
      kind: 'DestinationRule',
      metadata: metadata(),
      spec: {
        host: service.name,
        ...renderOutlierDetection(service.outlierDetection),
        // A version's own labels win, so a subset can select pods labelled differently (e.g. version: 1.16.2).
        subsets: service.versions.map((v) => ({ name: v.name, labels: { version: v.name, ...v.labels } })),
      },
    },
  };
}

/** The VirtualService and the DestinationRule as a two-document YAML stream, formatted like kubectl's output. */
export function renderIstio(service: IstioServiceInput, rules: Rule[], opts: IstioRenderOptions = {}): string {
  const { virtualService, destinationRule } = renderIstioObjects(service, rules, opts);
  const format = { indentSeq: false, lineWidth: 0 } as const;
  return `${stringify(virtualService, format)}---\n${stringify(destinationRule, format)}`;
}

/**
 * The proxy's outlier detection, defaults included, so Envoy ejects the same endpoints: Istio applies a
 * service-level trafficPolicy to every subset, each subset being its own Envoy cluster (maxEjectionPercent is then
 * per version, as in the proxy). Nothing when detection is off (Istio's own default: none).
 */
function renderOutlierDetection(input: OutlierDetection | undefined): { trafficPolicy?: { outlierDetection: IstioOutlierDetection } } {
  const p = outlierPolicy(input);
  if (!outlierDetectionOn(p)) return {};
  return {
    trafficPolicy: {
      outlierDetection: {
        // Written even at 0: Istio's default for an absent consecutive5xxErrors is 5, not off.
        consecutive5xxErrors: p.consecutive5xxErrors,
        consecutiveGatewayErrors: p.consecutiveGatewayErrors,
        interval: istioDuration(p.intervalMs),
        baseEjectionTime: istioDuration(p.baseEjectionTimeMs),
        maxEjectionPercent: p.maxEjectionPercent,
      },
    },
  };
}

/** Milliseconds as an Istio (protobuf) duration: "30s", "1.5s", "0.250s". */
function istioDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(3)}s`;
}

function renderMatch(block: MatchBlock, path: string, problems: ErrorDetail[]): IstioMatchRequest {
  const out: IstioMatchRequest = {};
  if (block.uri) out.uri = copyMatch(block.uri);
  const headers: Record<string, IstioStringMatch> = {};
  const original: Record<string, string> = {};
  for (const [name, match] of Object.entries(block.headers ?? {})) {
    // Istio requires lower-case header names; HTTP header names are case-insensitive anyway.
    const lower = name.toLowerCase();
    if (original[lower] !== undefined) {
      problems.push({
        path: `${path}.headers`,
        message: `"${original[lower]}" and "${name}" name the same header; Istio takes one condition per header, join them into one regex`,
      });
      continue;
    }
    original[lower] = name;
    headers[lower] = copyMatch(match);
  }
  if (block.cookie && Object.keys(block.cookie).length > 0) {
    if (headers.cookie) {
      problems.push({
        path: `${path}.cookie`,
        message: `cannot be combined with headers.${original.cookie} in one block: both become a condition on the "cookie" header and Istio takes one`,
      });
    } else {
      try {
        headers.cookie = { regex: cookieHeaderRegex(block.cookie, `${path}.cookie`) };
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        problems.push(...err.details);
      }
    }
  }
  if (Object.keys(headers).length > 0) out.headers = headers;
  if (block.queryParams && Object.keys(block.queryParams).length > 0) {
    out.queryParams = {};
    for (const [name, match] of Object.entries(block.queryParams)) {
      // Istio's queryParams take exact and regex only; a prefix becomes the equivalent whole-string regex.
      out.queryParams[name] = match.prefix !== undefined ? { regex: `${RE2JS.quote(match.prefix)}.*` } : copyMatch(match);
    }
  }
  if (block.method) out.method = copyMatch(block.method);
  return out;
}

function copyMatch(m: StringMatch): IstioStringMatch {
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined) return { prefix: m.prefix };
  return { regex: m.regex ?? '' };
}

function describeSticky(sticky: NonNullable<Rule['sticky']>): string {
  if ('cookie' in sticky) return `cookie "${sticky.cookie}"`;
  if ('header' in sticky) return `header "${sticky.header}"`;
  return 'client address';
}
