// The API's shapes as the client reads and writes them, defined by the schemas the API validates with and generates
// its OpenAPI document from (src/core/model.ts, src/control-plane/api-schemas.ts, src/telemetry). Types only, erased
// when compiled: the client loads no module of the control plane or the core (src/import-rules.test.ts).
export type { ObservedHistoryAnswer } from '../control-plane/api-schemas.js';
export type { AnalysisCheck, AnalysisSpecInput, AnalysisStep } from '../core/analysis/index.js';
export type { ComparisonAnswer } from '../control-plane/comparison-api.js';
export type { MatchBlock, PartialWorkload, Release, ReleaseSpecInput, Rule, Service, StringMatch, Traffic } from '../core/index.js';
export type { StoredSpan, Topology, TopologyEdge, TopologyNode, TraceSummary } from '../telemetry/index.js';
