import { z } from 'zod';
import { AnalysisSpec } from '../core/analysis/index.js';
import {
  Compare,
  Name,
  OutlierDetection,
  PartialWorkload,
  ReleasePhase,
  ReleaseStrategyName,
  Rule,
  Traffic,
  Version,
} from '../core/index.js';

/** Response and parameter schemas of API v1, built from the core's model so the OpenAPI document matches it. */

export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })),
    }),
  })
  .meta({ description: 'Every error: a code, a message that names the field, and one detail per problem.' });

const metaFields = {
  resourceVersion: z.string().meta({ description: 'The store revision of the last write; send it as If-Match.' }),
  createdAt: z.string(),
  updatedAt: z.string(),
  createdBy: z.string(),
};

export const InstanceStatusSchema = z.object({
  name: z.string(),
  address: z.string(),
  pid: z.number().nullable(),
  ready: z.boolean(),
  restarts: z.number(),
  state: z.enum(['starting', 'ready', 'unready', 'backoff', 'stopping', 'exited']),
  startedAt: z.string().nullable(),
  outboundPort: z.number().nullable(),
  /**
   * Set while a proxy's outlier detection keeps the instance out of load balancing (consecutive errors): when it
   * comes back, ISO 8601.
   */
  ejectedUntil: z.string().optional(),
});

export const VersionHealthSchema = z.object({ ready: z.boolean(), failed: z.boolean(), reason: z.string() });

export const ServiceStatusSchema = z.object({
  release: z.string().nullable(),
  versions: z.array(z.object({ name: z.string(), health: VersionHealthSchema, instances: z.array(InstanceStatusSchema) })),
});

export const ServiceResource = z.object({
  name: z.string(),
  port: z.number(),
  ingress: z.object({ paths: z.array(z.string()) }).optional(),
  versions: z.array(Version),
  routes: z.array(Rule),
  outlierDetection: OutlierDetection.optional(),
  ...metaFields,
  status: ServiceStatusSchema.optional(),
});

export const ConditionSchema = z.object({
  type: z.string(),
  status: z.enum(['True', 'False']),
  reason: z.string(),
  message: z.string(),
  at: z.string(),
});

const VersionFiguresSchema = z.object({
  requests: z.number(),
  failures: z.number(),
  successRate: z.number().nullable().meta({ description: 'percent' }),
  p50: z.number().nullable().meta({ description: 'ms' }),
  p99: z.number().nullable().meta({ description: 'ms' }),
});

export const CheckResultSchema = z.object({
  metric: z.enum(['successRate', 'latencyP99', 'prometheus']),
  test: z.enum(['compare', 'min', 'maxMs', 'rank', 'query']),
  verdict: z.enum(['passing', 'failing', 'inconclusive']),
  statistic: z.number().nullable().meta({ description: 'A likelihood ratio (compare, min, maxMs), a p-value (rank) or the query value' }),
  bound: z.number().nullable().meta({ description: '1/alpha for likelihood ratios, the spent alpha for p-values, the bound for queries' }),
  progress: z.number().meta({ description: '0..1: how far the evidence has come toward failing' }),
  message: z.string(),
});

export const AnalysisStatusSchema = z
  .object({
    state: z.enum(['waiting', 'preRollout', 'running', 'held', 'confirming', 'promoting', 'failed', 'aborted']),
    step: z.number().meta({ description: 'Index of the current step in analysis.steps' }),
    stepStartedAt: z.string().nullable(),
    weight: z.number(),
    verdict: z.enum(['passing', 'failing', 'inconclusive']).nullable(),
    message: z.string(),
    checkedAt: z.string().nullable(),
    sampledUntil: z.number(),
    checks: z.array(CheckResultSchema),
    totals: z.object({ candidate: VersionFiguresSchema, baseline: VersionFiguresSchema }).nullable(),
    history: z.array(
      z.object({
        at: z.string(),
        step: z.number(),
        weight: z.number(),
        verdict: z.enum(['passing', 'failing', 'inconclusive']),
        candidate: VersionFiguresSchema,
        baseline: VersionFiguresSchema,
        progress: z.record(z.string(), z.number()),
      }),
    ),
    judge: z.record(z.string(), z.unknown()).meta({ description: "The judge's running state (the sequential tests' evidence)" }),
  })
  .meta({ description: 'Where the automated analysis stands: step, verdict with its evidence, history of checks' });

export const ReleaseResource = z.object({
  name: z.string(),
  service: z.string(),
  strategy: ReleaseStrategyName,
  baseline: z.string(),
  candidate: z.object({ name: z.string(), workload: PartialWorkload.optional() }),
  traffic: Traffic.meta({
    description: 'As given, or the strategy\'s default: blueGreen {"weights":{"<baseline>":100}}, mirror {"mirror":{"percent":100}}',
  }),
  preview: z.object({ header: z.string() }).optional(),
  compare: Compare.optional(),
  analysis: AnalysisSpec.optional(),
  status: z.object({
    phase: ReleasePhase,
    governor: z.string().nullable(),
    observed: z.record(z.string(), z.number()),
    conditions: z.array(ConditionSchema),
    candidateCreated: z.boolean(),
    standby: z.string().optional().meta({ description: 'blueGreen: the baseline kept running after the switch, for an instant rollback' }),
    analysis: AnalysisStatusSchema.optional(),
  }),
  ...metaFields,
});

export const EventResource = z.object({
  id: z.number(),
  at: z.string(),
  revision: z.number(),
  actor: z.string(),
  action: z.string(),
  resourceKind: z.enum(['service', 'release', 'token']),
  resourceName: z.string(),
  release: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  message: z.string(),
});

export const EventsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  since: z.string().optional().meta({ description: 'An event id (events after it) or an ISO time (events at or after it).' }),
});

export const RouteTableSchema = z.object({
  revision: z.number(),
  generatedAt: z.string(),
  services: z.array(
    z.object({
      name: z.string(),
      port: z.number(),
      ingressPaths: z.array(z.string()),
      release: z.string().nullable(),
      versions: z.array(
        z.object({
          name: z.string(),
          endpoints: z.array(z.object({ address: z.string(), instance: z.string(), ready: z.boolean(), pid: z.number().optional() })),
        }),
      ),
      rules: z.array(Rule),
      outlierDetection: z
        .object({
          consecutive5xxErrors: z.number(),
          consecutiveGatewayErrors: z.number(),
          intervalMs: z.number(),
          baseEjectionTimeMs: z.number(),
          maxEjectionPercent: z.number(),
        })
        .optional()
        .meta({ description: "The service's outlier detection, defaults filled in, durations in milliseconds" }),
      compare: Compare.optional().meta({ description: "The release's comparison of mirrored answers, when it sets one" }),
    }),
  ),
  listeners: z.array(
    z.object({ port: z.number(), service: z.string(), version: z.string(), instance: z.string(), pid: z.number().optional() }),
  ),
});

export const FinishResultSchema = z.object({
  release: z.string(),
  service: z.string(),
  kept: z.string(),
  retired: z.string(),
});

export const LogLinesSchema = z.object({
  lines: z.array(z.object({ at: z.string(), instance: z.string(), stream: z.enum(['stdout', 'stderr']), line: z.string() })),
});

export const ServiceParams = z.object({ name: Name });
export const VersionParams = z.object({ name: Name, version: Name });
export const ReleaseParams = z.object({ name: Name });

export const errorResponses = { '4xx': ErrorBodySchema, '5xx': ErrorBodySchema };

export const ObservedHistoryQuery = z.object({
  minutes: z.coerce
    .number({ error: 'must be a whole number of minutes, 1 to 60' })
    .int('must be a whole number of minutes, 1 to 60')
    .min(1, 'must be at least 1 (minute)')
    .max(60, 'must be at most 60 (minutes kept)')
    .default(15)
    .meta({ description: 'How far back, in minutes (1..60); default 15.' }),
});

const Weights = z.record(z.string(), z.number());

export const ObservedHistorySchema = z.object({
  release: z.string(),
  service: z.string(),
  minutes: z.number(),
  bucketSeconds: z.number().meta({ description: 'Width of a point in seconds (10).' }),
  versions: z.array(z.string()).meta({ description: 'Baseline, candidate, then any other version that got traffic.' }),
  weights: Weights.meta({
    description: 'The weights (0..100) in force now: the governor 100, the baseline 100 while Pending, else the split.',
  }),
  points: z.array(
    z.object({
      at: z.string().meta({ description: 'End of the interval (ISO time); the last point may be the bucket filling now.' }),
      requests: z.number(),
      versions: z.record(
        z.string(),
        z.object({
          requests: z.number(),
          rps: z.number(),
          share: z.number().nullable().meta({ description: "Fraction (0..1) of the service's requests; null when it got none." }),
          successRate: z.number().nullable(),
        }),
      ),
      weights: Weights.nullable().meta({ description: 'The weights in force at `at`; null before the release existed.' }),
    }),
  ),
});
/** The answer of `GET /api/v1/releases/{name}/observed-history`. */
export type ObservedHistoryAnswer = z.infer<typeof ObservedHistorySchema>;

const Latency = z.object({ p50: z.number().nullable(), p95: z.number().nullable(), p99: z.number().nullable() });
const Responses = z.object({ '2xx': z.number(), '3xx': z.number(), '4xx': z.number(), '5xx': z.number(), other: z.number() });
/** `GET /api/v1/topology`: calls between versions over a window, as the proxies reported them. */
export const TopologySchema = z.object({
  window: z.number(),
  generatedAt: z.string(),
  nodes: z.array(
    z.object({
      id: z.string(),
      type: z.enum(['ingress', 'service', 'version', 'unknown']),
      service: z.string().nullable(),
      version: z.string().nullable(),
      requestRate: z.number(),
      successRate: z.number().nullable(),
      latencyMs: Latency,
      responses: Responses,
      requests: z.number(),
    }),
  ),
  edges: z.array(
    z.object({
      id: z.string(),
      source: z.string(),
      target: z.string(),
      requestRate: z.number(),
      successRate: z.number().nullable(),
      latencyMs: Latency,
      responses: Responses,
      requests: z.number(),
      share: z.number().nullable(),
    }),
  ),
  releases: z.array(z.object({ name: z.string(), service: z.string(), observed: z.record(z.string(), z.number()), requests: z.number() })),
});

/** One trace in `GET /api/v1/traces`. */
export const TraceSummarySchema = z.object({
  traceId: z.string(),
  rootService: z.string(),
  rootOperation: z.string(),
  startTime: z.string(),
  durationMs: z.number(),
  spanCount: z.number(),
  errors: z.number(),
  services: z.array(z.string()),
});
