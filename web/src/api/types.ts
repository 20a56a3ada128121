import type {
  ConditionSchema,
  EventResource,
  InstanceStatusSchema,
  LogLinesSchema,
  ReleaseResource,
  ServiceResource,
  TraceSummarySchema,
  VersionHealthSchema,
} from '@canary/control-plane/api-schemas.js';
import type { ComparisonSchema } from '@canary/control-plane/comparison-api.js';
import type { z } from 'zod';

/**
 * The API's shapes as the console reads them, derived from the zod schemas the control plane validates with and
 * generates its OpenAPI document from (src/core/model.ts, src/control-plane/api-schemas.ts): a field added there
 * reaches the console's type checker without a copy to update. Type-only imports: no server code is bundled.
 */

export type {
  MatchBlock,
  PartialWorkload,
  ReleasePhase,
  ReleaseStrategyName as ReleaseStrategy,
  RouteDestination,
  Rule,
  StringMatch,
  Traffic,
  Workload,
} from '@canary/core/model.js';

export type MatchKind = keyof import('@canary/core/model.js').StringMatch;

export type Instance = z.output<typeof InstanceStatusSchema>;
export type VersionHealth = z.output<typeof VersionHealthSchema>;
export type Condition = z.output<typeof ConditionSchema>;
export type Release = z.output<typeof ReleaseResource>;
export type ReleaseInput = import('@canary/core/model.js').ReleaseSpecInput;
/** A mirror release's `compare` as the wizard sends it (the API fills in the defaults). */
export type CompareOptions = z.input<typeof import('@canary/core/model.js').Compare>;
export type LogLine = z.output<typeof LogLinesSchema>['lines'][number];

/** A service as the API answers it: its instances and health come under `status.versions`. */
export type ServiceAnswer = z.output<typeof ServiceResource>;

/** A version as the console draws it: shapes.ts copies its instances and health from the service's status. */
export type Version = ServiceAnswer['versions'][number] & { instances?: Instance[]; health?: VersionHealth };

export type Service = Omit<ServiceAnswer, 'versions'> & { versions: Version[] };

/** An event as the API answers it. */
export type EventAnswer = z.output<typeof EventResource>;

/** An event as the console lists it: `kind`/`name` of the resource it changed (from `resourceKind`/`resourceName`). */
export type MeshEvent = EventAnswer & { kind: string; name: string };

/** `GET /api/v1/releases/{name}/comparison?window=300`: the mirror's answers against the primary's. */
export type Comparison = z.output<typeof ComparisonSchema>;
export type ComparisonDifference = Comparison['differences'][number];
export type ExchangeSample = NonNullable<ComparisonDifference['example']>['primary'];
export type LatencyPercentiles = Comparison['latency']['primary'];

// The topology and trace views below are the console's drawing shapes, built in shapes.ts and
// tracing/normalize-trace.ts from the API's answers (TopologySchema, TraceSummarySchema): not copies of the model.

export interface TopologyNode {
  id: string;
  service?: string;
  version?: string;
  kind: string;
  rate?: number;
  successRate?: number;
  p50?: number;
  p95?: number;
  p99?: number;
  codes?: Record<string, number>;
}

export interface TopologyEdge {
  source: string;
  target: string;
  rate: number;
  successRate: number;
  /** Of the calls from the source to the target's service, the part that went to this version (0..1). */
  share?: number;
  p50?: number;
  p95?: number;
  p99?: number;
  codes?: Record<string, number>;
}

export interface Topology {
  window: number;
  nodes: TopologyNode[];
  edges: TopologyEdge[];
}

/**
 * A span as `GET /api/v1/traces/{id}` returns it (one per proxy hop: client and server side). The API declares
 * spans as open objects (any field beyond `spanId`), so every other field is read as optional.
 */
export interface Span {
  spanId: string;
  parentSpanId?: string | null;
  traceId?: string;
  kind?: string;
  name?: string;
  service?: string;
  version?: string;
  instance?: string;
  host?: string;
  pid?: number;
  method?: string;
  path?: string;
  /** The HTTP status the span saw (0: no answer). */
  statusCode?: number;
  error?: boolean;
  /** The address at the other end: the upstream for a client span, the caller for a server span. */
  peerAddress?: string;
  peerService?: string;
  /** Milliseconds since the epoch (fractional). */
  startTime?: string | number;
  startedAt?: string;
  durationMs?: number;
  attributes?: Record<string, unknown>;
}

/** A trace in the list (`TraceSummarySchema`), and a whole trace with its spans (`GET /api/v1/traces/{id}`). */
export type TraceSummary = Partial<z.output<typeof TraceSummarySchema>> & {
  traceId: string;
  spans?: Span[];
  /** Spellings of other trace stores, read as fallbacks. */
  service?: string;
  name?: string;
  start?: string | number;
  error?: boolean;
};
