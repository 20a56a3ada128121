import { type Release, ReleaseSpec, type ReleaseSpecInput } from '../../src/core/model.js';
import { markCandidateReady } from '../../src/core/release-phases.js';
import { strategyOf } from '../../src/core/strategies/registry.js';

/** The fixed clock of the release fixtures. */
export const fixtureNow = '2026-01-01T00:00:00.000Z';

/**
 * A planned release of `reviews` (baseline v1, candidate v2 already created, phase Pending) as the store would hold
 * it: `spec` is parsed like an API request, and traffic left out takes the strategy's default.
 */
export function releaseFixture(spec: ReleaseSpecInput): Release {
  const parsed = ReleaseSpec.parse(spec);
  const status = { phase: 'Pending' as const, governor: null, observed: {}, conditions: [], candidateCreated: true };
  return {
    ...parsed,
    baseline: 'v1',
    traffic: parsed.traffic ?? strategyOf(parsed).defaultTraffic('v1', 'v2'),
    status,
    resourceVersion: '1',
    createdAt: fixtureNow,
    updatedAt: fixtureNow,
    createdBy: 'admin',
  };
}

/** The release once its candidate reported ready. */
export const readyFixture = (r: Release): Release => ({ ...r, status: markCandidateReady(r, fixtureNow) });

/** The first rule while the candidate is ready: `x-canary-preview: v2` reaches it. */
export const previewRule = { match: [{ headers: { 'x-canary-preview': { exact: 'v2' } } }], route: [{ version: 'v2', weight: 100 }] };
