import { InputError, NotAllowedError } from './errors.js';
import type { Condition, Release, ReleaseStatus } from './model.js';

/**
 * The release phases every strategy shares, as pure functions from a release to its next status:
 * Pending (candidate starting; baseline keeps all traffic) -> Progressing (the strategy's routing in force) ->
 * TakenOver (a governor version gets 100%) | RolledBack (governor = baseline); resume clears the governor.
 * Failed when the candidate cannot start. A strategy builds its take over / roll back / resume on these.
 */

export function condition(type: string, ok: boolean, reason: string, message: string, now: string): Condition {
  return { type, status: ok ? 'True' : 'False', reason, message, at: now };
}

/** The conditions with `c` replacing any of its type. */
export function setCondition(status: ReleaseStatus, c: Condition): Condition[] {
  return [...status.conditions.filter((x) => x.type !== c.type), c];
}

export function isCandidateReady(release: Pick<Release, 'status'>): boolean {
  return release.status.conditions.some((c) => c.type === 'CandidateReady' && c.status === 'True');
}

export function markCandidateReady(release: Release, now: string): ReleaseStatus {
  const s = release.status;
  const conditions = setCondition(s, condition('CandidateReady', true, 'Ready', `${release.candidate.name} is ready`, now));
  const phase = s.governor ? s.phase : 'Progressing';
  return { ...s, phase, conditions };
}

export function markCandidateFailed(release: Release, reason: string, now: string): ReleaseStatus {
  const s = release.status;
  const conditions = setCondition(s, condition('CandidateReady', false, 'Failed', reason, now));
  return { ...s, phase: s.governor ? s.phase : 'Failed', conditions };
}

/** `version` must be one of the release's two, and the candidate only once it is ready. */
export function requireVersionOf(release: Release, version: string, action: string): void {
  if (version !== release.baseline && version !== release.candidate.name) {
    throw new InputError(
      `version: "${version}" is not part of release "${release.name}" (${release.baseline}, ${release.candidate.name})`,
      [{ path: 'version', message: `must be "${release.baseline}" or "${release.candidate.name}"` }],
    );
  }
  if (version === release.candidate.name && !isCandidateReady(release)) {
    throw new NotAllowedError(`cannot ${action} ${version}: it is not ready (phase ${release.status.phase})`);
  }
}

export function takeover(release: Release, version: string): ReleaseStatus {
  requireVersionOf(release, version, 'take over with');
  return { ...release.status, phase: 'TakenOver', governor: version };
}

/** Rollback works in every phase and is idempotent: the baseline gets all traffic. */
export function rollback(release: Release): ReleaseStatus {
  return { ...release.status, phase: 'RolledBack', governor: release.baseline };
}

export function resume(release: Release): ReleaseStatus {
  if (!release.status.governor) {
    throw new NotAllowedError(`release "${release.name}" is ${release.status.phase}: there is no take-over or rollback to resume from`);
  }
  const failed = release.status.conditions.some((c) => c.type === 'CandidateReady' && c.reason === 'Failed');
  const phase = isCandidateReady(release) ? 'Progressing' : failed ? 'Failed' : 'Pending';
  return { ...release.status, phase, governor: null };
}

/** The condition of a release between "all traffic to the kept version" and the retirement of the other. */
export const FINISHING = 'Finishing';

export function isFinishing(release: Pick<Release, 'status'>): boolean {
  return release.status.conditions.some((c) => c.type === FINISHING && c.status === 'True');
}

/** The version a finished release retires: the other one (DESIGN: "keep one version, retire the other's workload"). */
export function retiredBy(release: Pick<Release, 'baseline' | 'candidate'>, keep: string): string {
  return keep === release.baseline ? release.candidate.name : release.baseline;
}
