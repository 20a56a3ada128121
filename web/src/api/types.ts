/** The API's shapes as the console reads them (see DESIGN.md and src/core/model.ts). */

export type MatchKind = 'exact' | 'prefix' | 'regex';
export type StringMatch = Partial<Record<MatchKind, string>>;

export interface MatchBlock {
  uri?: StringMatch;
  headers?: Record<string, StringMatch>;
  cookie?: Record<string, StringMatch>;
  queryParams?: Record<string, StringMatch>;
  method?: StringMatch;
}

export interface RouteDestination {
  version: string;
  weight: number;
}

export interface Rule {
  match?: MatchBlock[];
  route: RouteDestination[];
  mirror?: { version: string; percent?: number };
  sticky?: { cookie: string } | { header: string } | { sourceIp: true };
}

export interface Workload {
  kind: 'process' | 'endpoints' | 'kubernetes';
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  replicas?: number;
  addresses?: string[];
  image?: string;
}

export interface Instance {
  name: string;
  address: string;
  pid?: number | null;
  ready: boolean;
  restarts: number;
  state: string;
  startedAt?: string | null;
  /** Set while a proxy's outlier detection keeps the instance out of load balancing: until when (ISO 8601). */
  ejectedUntil?: string;
}

export interface Version {
  name: string;
  labels?: Record<string, string>;
  workload: Workload;
  instances?: Instance[];
  health?: { ready: boolean; failed: boolean; reason?: string | null };
}

export interface Service {
  name: string;
  port: number;
  ingress?: { paths: string[] };
  versions: Version[];
  routes?: Rule[];
  resourceVersion?: string;
  createdAt?: string;
}

export interface Traffic {
  weights?: Record<string, number>;
  match?: MatchBlock[];
  rules?: Rule[];
  /** Strategy mirror: every answer from the baseline, this share of requests copied to the candidate. */
  mirror?: { version?: string; percent: number };
}

/** `canary` splits traffic; `blueGreen` switches all of it at once; `mirror` copies it to the candidate. */
export type ReleaseStrategy = 'canary' | 'blueGreen' | 'mirror';

/** How a mirror release compares the candidate's answers with the primary's (CONTRACT.md). */
export interface CompareOptions {
  body?: boolean;
  headers?: string[];
  ignoreHeaders?: string[];
  ignoreJsonPaths?: string[];
  maxBodyBytes?: number;
}

export type ReleasePhase = 'Pending' | 'Progressing' | 'TakenOver' | 'RolledBack' | 'Failed';

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  at: string;
}

export interface Release {
  name: string;
  service: string;
  /** Absent from control planes older than the three strategies: canary. */
  strategy?: ReleaseStrategy;
  /** Requests carrying `<header>: <candidate>` reach the candidate; default header `x-canary-preview`. */
  preview?: { header?: string };
  compare?: CompareOptions;
  baseline: string;
  candidate: { name: string; workload?: Partial<Workload> };
  /** Absent for a blue-green release (the candidate gets no ordinary traffic) and optional for a mirror. */
  traffic?: Traffic;
  status: {
    phase: ReleasePhase;
    governor: string | null;
    observed: Record<string, number>;
    conditions: Condition[];
    /** Blue-green after a switch: the version kept running for an instant switch back. */
    standby?: string | null;
  };
  resourceVersion: string;
  createdAt: string;
  createdBy: string;
}

export interface ReleaseInput {
  name: string;
  service: string;
  strategy: ReleaseStrategy;
  baseline?: string;
  candidate: { name: string; workload?: Partial<Workload> };
  /** Optional for blueGreen (the candidate starts at 0 %). */
  traffic?: Traffic;
  compare?: CompareOptions;
}

/** One side of a compared exchange, as kept in a difference's example. */
export interface ExchangeSample {
  status: number;
  headers: Record<string, string | string[]>;
  /** The body as text, cut short by the control plane; `bodyBytes` is the whole length. */
  body?: string | null;
  bodyBytes?: number;
}

export interface ComparisonDifference {
  kind: 'status' | 'header' | 'body';
  method: string;
  path: string;
  /** The JSON path (`$.rating`) or header name that differs; null for a status or a non-JSON body. */
  field?: string | null;
  primary: string | number | null;
  mirror: string | number | null;
  count: number;
  example?: { primary: ExchangeSample; mirror: ExchangeSample } | null;
}

export interface LatencyPercentiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/** `GET /api/v1/releases/{name}/comparison?window=300`: the mirror's answers against the primary's. */
export interface Comparison {
  release: string;
  window: number;
  requests: number;
  mirrored: number;
  compared: number;
  agree: number;
  skipped: { bodyTooLarge: number; mirrorFailed: number; overloaded?: number; primaryFailed?: number };
  /** Differences beyond those kept (memory is bounded): counted only. */
  otherDifferences?: number;
  differences: ComparisonDifference[];
  latency: { primary: LatencyPercentiles; mirror: LatencyPercentiles };
}

export interface MeshEvent {
  id: string | number;
  at: string;
  actor: string;
  action: string;
  kind: string;
  name: string;
  before?: unknown;
  after?: unknown;
  message?: string;
}

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

/** A span as `GET /api/v1/traces/{id}` returns it (one per proxy hop: client and server side). */
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

export interface TraceSummary {
  traceId: string;
  rootService?: string;
  rootOperation?: string;
  /** Every service the trace passed through. */
  services?: string[];
  service?: string;
  name?: string;
  startTime?: string | number;
  start?: string | number;
  durationMs?: number;
  spanCount?: number;
  spans?: Span[];
  error?: boolean;
  errors?: number;
}

export interface LogLine {
  at: string;
  instance: string;
  stream: string;
  line: string;
}
