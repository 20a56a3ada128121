import type { ErrorDetail } from '../errors.js';
import { DEFAULT_PREVIEW_HEADER, type Release, type ReleaseStatus, type ReleaseStrategyName, type Rule, type Traffic } from '../model.js';
import { isCandidateReady, isFinishing, requireVersionOf, retiredBy } from '../release-phases.js';
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
  /** The traffic stored when a release gives none (blueGreen: the baseline 100%; mirror: 100% copied). */
  defaultTraffic(baseline: string, candidate: string): Traffic;
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

/** The header that reaches a release's candidate: `x-canary-preview` unless the release names another. */
export function previewHeader(release: Pick<Release, 'preview'>): string {
  return release.preview?.header ?? DEFAULT_PREVIEW_HEADER;
}

/** `<header>: <candidate>` goes to the candidate, whatever else the release routes (every strategy). */
export function previewRule(release: Pick<Release, 'preview' | 'candidate'>): Rule {
  const candidate = release.candidate.name;
  return { match: [{ headers: { [previewHeader(release)]: { exact: candidate } } }], route: [{ version: candidate, weight: 100 }] };
}

/**
 * The rules every strategy shares outside its own Progressing routing: the governor alone while one is set,
 * the baseline alone while the candidate is not ready (Pending) or cannot start (Failed). While the candidate
 * is ready, the preview rule comes first, so testers reach it before (or without) any ordinary traffic; it is
 * left out when the candidate takes everything anyway, and while finishing (everything goes to the kept version).
 */
export function phaseRules(release: Release, progressing: () => Rule[]): Rule[] {
  const { phase, governor } = release.status;
  let rules: Rule[];
  if (governor) rules = singleVersionRules(governor);
  else if (phase === 'Pending' || phase === 'Failed') rules = singleVersionRules(release.baseline);
  else rules = progressing();
  if (!isCandidateReady(release) || governor === release.candidate.name || isFinishing(release)) return rules;
  return [previewRule(release), ...rules];
}

/** Finishing is the same for every strategy: keep one of the two versions (the candidate only once ready), retire the other. */
export function finishKeeping(release: Release, keep: string): { retire: string } {
  requireVersionOf(release, keep, 'finish keeping');
  return { retire: retiredBy(release, keep) };
}
