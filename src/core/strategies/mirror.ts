import type { ErrorDetail } from '../errors.js';
import type { Release, Rule } from '../model.js';
import { resume, rollback, takeover } from '../release-phases.js';
import { finishKeeping, phaseRules, type ReleaseStrategy } from './release-strategy.js';

const ONLY_MIRROR = 'strategy mirror answers every request from the baseline; give only {"mirror":{"percent":N}}';

/** The share of requests copied to the candidate: 100 unless the release says otherwise. */
export function mirrorPercent(release: Pick<Release, 'traffic'>): number {
  return release.traffic.mirror?.percent ?? 100;
}

/**
 * mirror: every answer comes from the baseline (weight 100) and a share of the requests is copied to the candidate,
 * whose answers are discarded (after comparison). Take over with the candidate turns the job into a canary at 100%
 * candidate, which can then be rolled back, resumed and changed like any canary.
 */
export const mirrorStrategy: ReleaseStrategy = {
  name: 'mirror',

  trafficProblems(traffic, _baseline, candidate): ErrorDetail[] {
    if (!traffic) return [];
    const problems: ErrorDetail[] = [];
    for (const key of ['weights', 'match', 'rules', 'sticky'] as const) {
      if (traffic[key] !== undefined) problems.push({ path: `traffic.${key}`, message: ONLY_MIRROR });
    }
    const mirror = traffic.mirror;
    if (mirror && !(mirror.percent > 0)) {
      problems.push({ path: 'traffic.mirror.percent', message: `must be more than 0 and at most 100, got ${mirror.percent}` });
    }
    if (mirror?.version !== undefined && mirror.version !== candidate) {
      problems.push({
        path: 'traffic.mirror.version',
        message: `must be the candidate "${candidate}" (or omitted), got "${mirror.version}"`,
      });
    }
    return problems;
  },

  defaultTraffic: () => ({ mirror: { percent: 100 } }),

  rules(release): Rule[] {
    return phaseRules(release, () => [
      {
        route: [{ version: release.baseline, weight: 100 }],
        mirror: { version: release.candidate.name, percent: mirrorPercent(release) },
      },
    ]);
  },

  takeover(release, version) {
    const status = takeover(release, version);
    if (version !== release.candidate.name) return { status };
    return {
      status,
      strategy: 'canary',
      traffic: { weights: { [release.baseline]: 0, [release.candidate.name]: 100 } },
    };
  },
  rollback: (release) => ({ status: rollback(release) }),
  resume: (release) => ({ status: resume(release) }),
  finish: finishKeeping,
};
