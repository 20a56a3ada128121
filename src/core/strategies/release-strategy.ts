import type { ErrorDetail } from '../errors.js';
import type { Release, ReleaseStatus, ReleaseStrategyName, Rule, Traffic } from '../model.js';
import { requireVersionOf, retiredBy } from '../release-phases.js';
import { singleVersionRules } from '../traffic.js';

/** What an operation changes in a release: always its status; a strategy may also turn the job into another. */
export interface ReleaseChange {
  status: ReleaseStatus;
  strategy?: ReleaseStrategyName;
  traffic?: Traffic;
}

/**
 * A release strategy (DESIGN.md "Release strategies"): what traffic input it accepts, what route rules it implies
 * in each phase, and what take over, roll back, resume and finish mean for it. Pure: the controller stores what
 * these return and runs the workloads.
 */
export interface ReleaseStrategy {
  readonly name: ReleaseStrategyName;
  /** Problems of a release's `traffic` for this strategy (create and change), paths under `traffic`. */
  trafficProblems(traffic: Traffic | undefined, baseline: string, candidate: string): ErrorDetail[];
  /** The route rules in force for the release in its current phase. */
  rules(release: Release): Rule[];
  /** `version` takes 100% at once. */
  takeover(release: Release, version: string): ReleaseChange;
  /** The baseline takes 100% at once; works in every phase. */
  rollback(release: Release): ReleaseChange;
  /** Clears the governor: the strategy's own routing applies again. */
  resume(release: Release): ReleaseChange;
  /** Checks that the release may finish keeping `keep`; the version it retires. */
  finish(release: Release, keep: string): { retire: string };
}

/**
 * The rules every strategy shares outside its own Progressing routing: the governor alone while one is set,
 * the baseline alone while the candidate is not ready (Pending) or cannot start (Failed).
 */
export function phaseRules(release: Release, progressing: () => Rule[]): Rule[] {
  const { phase, governor } = release.status;
  if (governor) return singleVersionRules(governor);
  if (phase === 'Pending' || phase === 'Failed') return singleVersionRules(release.baseline);
  return progressing();
}

/** Finishing is the same for every strategy: keep one of the two versions (the candidate only once ready), retire the other. */
export function finishKeeping(release: Release, keep: string): { retire: string } {
  requireVersionOf(release, keep, 'finish keeping');
  return { retire: retiredBy(release, keep) };
}
