import { z } from 'zod';
import { DEFAULT_COMPARE, MAX_COMPARE_BODY_BYTES } from './comparison/compare-answers.js';
import { parseJsonPath } from './comparison/json-path.js';
import { AnalysisSpec } from './analysis/analysis-spec.js';
import type { AnalysisStatus } from './analysis/analysis-status.js';
import { dns1123LabelProblem } from './names.js';
import { durationMs } from './outlier-detection.js';
import { regexProblem } from './regex.js';

/**
 * The resource model: services, versions, route rules and releases, as zod schemas (the API's OpenAPI
 * document is generated from these) and their TypeScript types. Checks that need no other resource
 * live here; checks across resources (does the version exist?) live in traffic.ts (`ruleVersionProblems`), and what a
 * release's strategy accepts in strategies/.
 */

export const Name = z.string().superRefine((value, ctx) => {
  const problem = dns1123LabelProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const StringMatch = z
  .strictObject({
    exact: z.string().optional(),
    prefix: z.string().optional(),
    regex: z.string().optional(),
  })
  .superRefine((m, ctx) => {
    const kinds = (['exact', 'prefix', 'regex'] as const).filter((k) => m[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `must have exactly one of exact, prefix or regex, got ${kinds.length === 0 ? 'none' : kinds.join(' and ')}`,
      });
      return;
    }
    if (m.regex !== undefined) {
      const problem = regexProblem(m.regex);
      if (problem) ctx.addIssue({ code: 'custom', path: ['regex'], message: problem });
    }
  })
  .meta({ description: 'One of exact, prefix or regex (RE2 syntax, whole-string match).' });
export type StringMatch = z.infer<typeof StringMatch>;

/** RFC 9110 `token`: what an HTTP field name may be made of. */
const FIELD_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const fieldNameRule = "RFC 9110 token: letters, digits and !#$%&'*+-.^_`|~";

/** An HTTP field name, lower-cased on input (names are case-insensitive; the proxy and Istio compare lower case). */
export const HeaderName = z
  .string()
  .refine((s) => FIELD_NAME.test(s), { error: (iss) => `${JSON.stringify(iss.input)} is not a valid HTTP field name (${fieldNameRule})` })
  .toLowerCase();

/**
 * Header conditions keyed by field name: each name a valid token, lower-cased on input. A rule with a CR/LF or
 * a space in a name could never match and would render to invalid Istio YAML; two spellings of one name would
 * silently lose one condition.
 */
const HeaderConditions = z
  .record(z.string(), StringMatch)
  .superRefine((conditions, ctx) => {
    const seen = new Map<string, string>();
    for (const name of Object.keys(conditions)) {
      if (!FIELD_NAME.test(name)) {
        ctx.addIssue({ code: 'custom', message: `header name ${JSON.stringify(name)} is not a valid HTTP field name (${fieldNameRule})` });
        continue;
      }
      const lower = name.toLowerCase();
      const first = seen.get(lower);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `header "${lower}" is named twice (as "${first}" and "${name}"); names are case-insensitive`,
        });
      }
      seen.set(lower, name);
    }
  })
  .overwrite((conditions) => Object.fromEntries(Object.entries(conditions).map(([name, m]) => [name.toLowerCase(), m])));

export const MatchBlock = z
  .strictObject({
    uri: StringMatch.optional(),
    headers: HeaderConditions.optional(),
    cookie: z.record(z.string().min(1), StringMatch).optional(),
    queryParams: z.record(z.string().min(1), StringMatch).optional(),
    method: StringMatch.optional(),
  })
  .meta({ description: 'Every condition of a block must hold (AND); a rule matches when any block does (OR).' });
export type MatchBlock = z.infer<typeof MatchBlock>;

export const Weight = z.int().min(0).max(100);

export const RouteDestination = z.strictObject({ version: Name, weight: Weight });
export type RouteDestination = z.infer<typeof RouteDestination>;

export const Sticky = z.union([
  z.strictObject({ cookie: z.string().min(1) }),
  z.strictObject({ header: HeaderName }),
  z.strictObject({ sourceIp: z.literal(true) }),
]);
export type Sticky = z.infer<typeof Sticky>;

export const Mirror = z.strictObject({ version: Name, percent: z.number().min(0).max(100).default(100) });
export type Mirror = z.infer<typeof Mirror>;

export const Rule = z
  .strictObject({
    match: z.array(MatchBlock).optional(),
    route: z.array(RouteDestination).min(1, 'must name at least one version'),
    mirror: Mirror.optional(),
    sticky: Sticky.optional(),
  })
  .superRefine((rule, ctx) => {
    const sum = rule.route.reduce((acc, d) => acc + d.weight, 0);
    if (sum !== 100) ctx.addIssue({ code: 'custom', path: ['route'], message: `weights must sum to 100, got ${sum}` });
    const seen = new Set<string>();
    for (const [i, d] of rule.route.entries()) {
      if (seen.has(d.version)) {
        ctx.addIssue({ code: 'custom', path: ['route', i, 'version'], message: `version "${d.version}" is named twice` });
      }
      seen.add(d.version);
    }
  });
export type Rule = z.infer<typeof Rule>;

export const Readiness = z.strictObject({
  path: z.string().startsWith('/').default('/health'),
  timeoutSeconds: z.number().positive().default(60),
});

export const ProcessWorkload = z.strictObject({
  kind: z.literal('process'),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
  replicas: z.int().min(1).max(32).default(1),
  readiness: Readiness.optional(),
});
export type ProcessWorkload = z.infer<typeof ProcessWorkload>;

const HostPort = z.string().regex(/^[^\s:/]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:9080');

export const EndpointsWorkload = z.strictObject({
  kind: z.literal('endpoints'),
  addresses: z.array(HostPort).min(1, 'must list at least one address'),
  health: z.strictObject({ path: z.string().startsWith('/') }).optional(),
});
export type EndpointsWorkload = z.infer<typeof EndpointsWorkload>;

export const KubernetesWorkload = z.strictObject({
  kind: z.literal('kubernetes'),
  image: z.string().min(1),
  env: z.record(z.string(), z.string()).default({}),
  args: z.array(z.string()).optional(),
  replicas: z.int().min(1).default(1),
});
export type KubernetesWorkload = z.infer<typeof KubernetesWorkload>;

export const Workload = z.discriminatedUnion('kind', [ProcessWorkload, EndpointsWorkload, KubernetesWorkload]);
export type Workload = z.infer<typeof Workload>;

/** A candidate's workload: any subset of a workload's fields; the rest comes from the baseline. */
export const PartialWorkload = z.strictObject({
  kind: z.enum(['process', 'endpoints', 'kubernetes']).optional(),
  command: z.string().min(1).optional(),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
  replicas: z.int().min(1).max(32).optional(),
  readiness: Readiness.optional(),
  addresses: z.array(HostPort).min(1).optional(),
  health: z.strictObject({ path: z.string().startsWith('/') }).optional(),
  image: z.string().min(1).optional(),
});
export type PartialWorkload = z.infer<typeof PartialWorkload>;

export const Version = z.strictObject({
  name: Name,
  labels: z.record(z.string(), z.string()).default({}),
  workload: Workload,
});
export type Version = z.infer<typeof Version>;

const Duration = (field: string, maxMs: number) =>
  z.string(`${field} must be a duration string such as "500ms", "10s" or "1m"`).superRefine((value, ctx) => {
    const ms = durationMs(value);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: `${field} must be a duration such as "500ms", "10s" or "1m", got "${value}"` });
    } else if (ms < 1 || ms > maxMs) {
      ctx.addIssue({ code: 'custom', message: `${field} must be between 1ms and ${maxMs / 1000}s, got "${value}"` });
    }
  });

export const OutlierDetection = z
  .strictObject(
    {
      consecutive5xxErrors: z
        .int('consecutive5xxErrors must be a whole number of responses (0 turns it off)')
        .min(0, 'consecutive5xxErrors must be 0 (off) or more')
        .max(10_000)
        .optional(),
      consecutiveGatewayErrors: z
        .int('consecutiveGatewayErrors must be a whole number of responses (0 turns it off)')
        .min(0, 'consecutiveGatewayErrors must be 0 (off) or more')
        .max(10_000)
        .optional(),
      interval: Duration('interval', 3_600_000).optional(),
      baseEjectionTime: Duration('baseEjectionTime', 3_600_000).optional(),
      maxEjectionPercent: z
        .int('maxEjectionPercent must be a whole percentage, e.g. 50')
        .min(0, 'maxEjectionPercent must be between 0 and 100')
        .max(100, 'maxEjectionPercent must be between 0 and 100')
        .optional(),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown field ${issue.keys.map((k) => `"${k}"`).join(', ')}: the fields are consecutive5xxErrors, consecutiveGatewayErrors, interval, baseEjectionTime and maxEjectionPercent`
          : undefined,
    },
  )
  .meta({
    description:
      'Passive outlier detection (Istio DestinationRule outlierDetection). Defaults: consecutive5xxErrors 0 (off), ' +
      'consecutiveGatewayErrors 5 (502/503/504, connect failures and timeouts), interval "10s", baseEjectionTime "30s", ' +
      'maxEjectionPercent 50. Both counts at 0 turn detection off.',
  });
export type OutlierDetection = z.infer<typeof OutlierDetection>;

export const ServiceSpec = z
  .strictObject({
    name: Name,
    port: z.int().min(1).max(65535).default(9080),
    ingress: z.strictObject({ paths: z.array(z.string().startsWith('/')).default([]) }).optional(),
    versions: z.array(Version).min(1, 'must have at least one version'),
    routes: z.array(Rule).default([]),
    outlierDetection: OutlierDetection.optional(),
  })
  .superRefine((svc, ctx) => {
    const seen = new Set<string>();
    for (const [i, v] of svc.versions.entries()) {
      if (seen.has(v.name)) ctx.addIssue({ code: 'custom', path: ['versions', i, 'name'], message: `version "${v.name}" is listed twice` });
      seen.add(v.name);
    }
  });
export type ServiceSpec = z.infer<typeof ServiceSpec>;

export interface Meta {
  resourceVersion: string;
  createdAt: string;
  updatedAt: string;
  createdBy: string;
}

export type Service = ServiceSpec & Meta;

/** A release's mirror: `version` defaults to the candidate. */
export const TrafficMirror = z
  .strictObject({ version: Name.optional(), percent: z.number().min(0).max(100).default(100) })
  .meta({ description: 'Copies `percent` of the requests to `version` (default: the candidate); its answers are discarded.' });
export type TrafficMirror = z.infer<typeof TrafficMirror>;

export const Traffic = z
  .strictObject({
    weights: z.record(Name, Weight).optional(),
    match: z.array(MatchBlock).min(1).optional(),
    rules: z.array(Rule).min(1).optional(),
    sticky: Sticky.optional(),
    mirror: TrafficMirror.optional(),
  })
  .superRefine((t, ctx) => {
    if (t.rules && (t.weights || t.match || t.sticky || t.mirror)) {
      ctx.addIssue({ code: 'custom', message: 'give either "rules" alone, or "weights" with optional "match", "sticky" and "mirror"' });
    }
    if (!t.rules && !t.weights && !t.match && !t.mirror) {
      ctx.addIssue({ code: 'custom', message: 'must give "weights", "match" or "rules" (or "mirror" alone with strategy mirror)' });
    }
    if (t.weights) {
      const sum = Object.values(t.weights).reduce((a, b) => a + b, 0);
      if (sum !== 100) ctx.addIssue({ code: 'custom', path: ['weights'], message: `must sum to 100, got ${sum}` });
    }
  })
  .meta({
    description:
      '{"weights":{"v1":90,"v2":10}} splits by weight; {"match":[...],"weights":{...}} sends matching requests to the candidate and the rest by weights; {"rules":[...]} gives full control; {"mirror":{"percent":20}} (strategy mirror) copies requests to the candidate.',
  });
export type Traffic = z.infer<typeof Traffic>;

/** A JSONPath of the subset compare.ignoreJsonPaths takes (`$.timestamp`, `$.items[*].id`). */
const IgnoredJsonPath = z.string().superRefine((value, ctx) => {
  const parsed = parseJsonPath(value);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
});

/** How a mirrored request's two answers are compared (docs/proxy.md, "Mirror"). */
export const Compare = z
  .strictObject({
    body: z.boolean().default(DEFAULT_COMPARE.body),
    headers: z
      .array(z.union([z.literal('*'), HeaderName]))
      .max(64)
      .default(DEFAULT_COMPARE.headers),
    ignoreHeaders: z.array(HeaderName).max(64).default(DEFAULT_COMPARE.ignoreHeaders),
    ignoreJsonPaths: z.array(IgnoredJsonPath).max(64).default(DEFAULT_COMPARE.ignoreJsonPaths),
    maxBodyBytes: z
      .int(`must be a whole number of bytes from 0 to ${MAX_COMPARE_BODY_BYTES}`)
      .min(0, `must be a whole number of bytes from 0 to ${MAX_COMPARE_BODY_BYTES}`)
      .max(MAX_COMPARE_BODY_BYTES, `must be at most ${MAX_COMPARE_BODY_BYTES} (1 MiB)`)
      .default(DEFAULT_COMPARE.maxBodyBytes),
  })
  .meta({
    description:
      'Comparison of mirrored answers: status always; the `headers` named (`*`: all but date and framing fields) less `ignoreHeaders`; ' +
      'the body when `body` (JSON structurally, skipping `ignoreJsonPaths`, else bytes). Request bodies over `maxBodyBytes` are not ' +
      'mirrored; answers are compared on their first `maxBodyBytes` and their length.',
  });
export type Compare = z.infer<typeof Compare>;

export const ReleasePhase = z.enum(['Pending', 'Progressing', 'TakenOver', 'RolledBack', 'Failed']);
export type ReleasePhase = z.infer<typeof ReleasePhase>;

export const ReleaseStrategyName = z.enum(['canary', 'blueGreen', 'mirror']).meta({
  description:
    'canary: traffic split by weights or match rules; blueGreen: the candidate waits at 0% and takes 100% at once; mirror: requests are copied to the candidate, every answer comes from the baseline.',
});
export type ReleaseStrategyName = z.infer<typeof ReleaseStrategyName>;

/** The header a tester sends, with the candidate's name as its value, to reach the candidate before it gets traffic. */
export const DEFAULT_PREVIEW_HEADER = 'x-canary-preview';

export const Preview = z
  .strictObject({ header: HeaderName.default(DEFAULT_PREVIEW_HEADER) })
  .meta({ description: 'A request carrying `<header>: <candidate>` goes to the candidate while it runs (every strategy).' });
export type Preview = z.infer<typeof Preview>;

export const ReleaseSpec = z.strictObject({
  name: Name,
  service: Name,
  strategy: ReleaseStrategyName.default('canary'),
  baseline: Name.optional(),
  candidate: z.strictObject({ name: Name, workload: PartialWorkload.optional() }),
  /** Required for canary; optional for blueGreen (the candidate gets no ordinary traffic) and mirror (100% copied). */
  traffic: Traffic.optional(),
  preview: Preview.optional(),
  /** How the candidate's answers to mirrored requests are compared with the baseline's; defaults apply when absent. */
  compare: Compare.optional(),
  /** Progressive delivery (strategy canary): steps, checks, webhooks; see docs/analysis.md. */
  analysis: AnalysisSpec.optional(),
});
export type ReleaseSpecInput = z.input<typeof ReleaseSpec>;
export type ReleaseSpec = z.infer<typeof ReleaseSpec>;

export interface Condition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
  at: string;
}

export interface ReleaseStatus {
  phase: ReleasePhase;
  governor: string | null;
  /** Share of requests each version served over the last minute, 0..1; empty until traffic flows. */
  observed: Record<string, number>;
  conditions: Condition[];
  /** Whether the candidate's workload was created by this release (and so is removed if the baseline is kept). */
  candidateCreated: boolean;
  /** blueGreen: the baseline, kept running after the switch so that rolling back is instant, until the release finishes. */
  standby?: string;
  /** The automated analysis, when the release has one: its step, verdict and evidence. */
  analysis?: AnalysisStatus;
}

/** A stored release: the spec with its baseline and traffic resolved (the strategy's default traffic when none was given), its status and metadata. */
export type Release = Omit<ReleaseSpec, 'baseline' | 'traffic'> & { baseline: string; traffic: Traffic; status: ReleaseStatus } & Meta;

export const TakeoverBody = z.strictObject({ version: Name });
export const PatchReleaseBody = z.strictObject({ traffic: Traffic });
export const PutRoutesBody = z.strictObject({ rules: z.array(Rule) });
/** `{}` sets the defaults; `{"consecutive5xxErrors": 0, "consecutiveGatewayErrors": 0}` turns detection off. */
export const PutOutlierDetectionBody = z.strictObject({ outlierDetection: OutlierDetection });
