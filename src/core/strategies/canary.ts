import type { ErrorDetail } from '../errors.js';
import { resume, rollback, takeover } from '../release-phases.js';
import { trafficProblems, trafficToRules } from '../traffic.js';
import { finishKeeping, phaseRules, type ReleaseStrategy } from './release-strategy.js';

/**
 * canary: the traffic is split between baseline and candidate by weights, by match rules, or by full rules;
 * take over and roll back set a governor that gets 100% while the stored split is kept for resume.
 */
export const canaryStrategy: ReleaseStrategy = {
  name: 'canary',

  trafficProblems(traffic, baseline, candidate): ErrorDetail[] {
    if (!traffic) {
      return [{ path: 'traffic', message: `required for strategy canary, e.g. {"weights":{"${baseline}":90,"${candidate}":10}}` }];
    }
    if (!traffic.weights && !traffic.match && !traffic.rules) {
      return [
        { path: 'traffic', message: 'strategy canary needs "weights", "match" or "rules"; to only copy requests, use strategy mirror' },
      ];
    }
    return trafficProblems({ traffic }, baseline, candidate);
  },

  // Never stored: a canary without traffic is refused above.
  defaultTraffic: (baseline) => ({ weights: { [baseline]: 100 } }),

  rules(release) {
    return phaseRules(release, () => trafficToRules(release.traffic, release.baseline, release.candidate.name));
  },

  takeover: (release, version) => ({ status: takeover(release, version) }),
  rollback: (release) => ({ status: rollback(release) }),
  resume: (release) => ({ status: resume(release) }),
  finish: finishKeeping,
};
