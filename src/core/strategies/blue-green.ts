import type { ErrorDetail } from '../errors.js';
import { resume, rollback, takeover } from '../release-phases.js';
import { singleVersionRules } from '../traffic.js';
import { finishKeeping, phaseRules, type ReleaseStrategy } from './release-strategy.js';

const NO_SPLIT =
  'strategy blueGreen sends no ordinary traffic to the candidate before the switch (testers reach it with the preview header); ' +
  'take over to switch 100% at once, or use strategy canary to split traffic';

/**
 * blueGreen: the candidate runs beside the baseline with 0% of ordinary traffic; take over switches 100% to it at
 * once, and the baseline keeps running as `status.standby` so that rolling back is instant until the release finishes.
 */
export const blueGreenStrategy: ReleaseStrategy = {
  name: 'blueGreen',

  trafficProblems(traffic, baseline, candidate): ErrorDetail[] {
    if (!traffic) return [];
    const problems: ErrorDetail[] = [];
    for (const key of ['match', 'rules', 'mirror', 'sticky'] as const) {
      if (traffic[key] !== undefined) problems.push({ path: `traffic.${key}`, message: NO_SPLIT });
    }
    for (const [version, weight] of Object.entries(traffic.weights ?? {})) {
      if (version === candidate && weight > 0) problems.push({ path: `traffic.weights.${version}`, message: `must be 0: ${NO_SPLIT}` });
      else if (version !== baseline && version !== candidate) {
        problems.push({
          path: `traffic.weights.${version}`,
          message: `"${version}" is neither the baseline "${baseline}" nor the candidate "${candidate}"`,
        });
      }
    }
    return problems;
  },

  defaultTraffic: (baseline) => ({ weights: { [baseline]: 100 } }),

  rules: (release) => phaseRules(release, () => singleVersionRules(release.baseline)),

  takeover(release, version) {
    const status = takeover(release, version);
    // The switch: from now on the baseline idles beside the candidate until the release finishes.
    return { status: version === release.candidate.name ? { ...status, standby: release.baseline } : status };
  },
  rollback: (release) => ({ status: rollback(release) }),
  resume: (release) => ({ status: resume(release) }),
  finish: finishKeeping,
};
