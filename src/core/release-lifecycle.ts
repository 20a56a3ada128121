import { ConflictError, InputError, NotAllowedError, type ErrorDetail } from './errors.js';
import type { Condition, Release, ReleaseSpec, ReleaseStatus, Service, Version } from './model.js';
import { stableVersion, versionsInRules, trafficToRules } from './traffic.js';
import { inheritWorkload } from './workload-inheritance.js';

/**
 * The release state machine, as pure functions from a release to its next status. Phases:
 * Pending (candidate starting; baseline keeps all traffic) -> Progressing (split in force) ->
 * TakenOver (a governor version gets 100%) | RolledBack (governor = baseline); resume clears the
 * governor. Failed when the candidate cannot start. Finishing keeps one version.
 */

export interface ReleasePlan {
  baseline: string;
  /** The version to add to the service when the candidate does not exist yet. */
  newVersion: Version | null;
  status: ReleaseStatus;
}

function condition(type: string, ok: boolean, reason: string, message: string, now: string): Condition {
  return { type, status: ok ? 'True' : 'False', reason, message, at: now };
}

function setCondition(status: ReleaseStatus, c: Condition): Condition[] {
  return [...status.conditions.filter((x) => x.type !== c.type), c];
}

export function isCandidateReady(release: Pick<Release, 'status'>): boolean {
  return release.status.conditions.some((c) => c.type === 'CandidateReady' && c.status === 'True');
}

/** Checks a new release against its service and the active release, and plans its first state. */
export function planRelease(spec: ReleaseSpec, service: Service, active: Release | undefined, now: string): ReleasePlan {
  if (active) {
    throw new ConflictError(`service "${service.name}" already has an active release "${active.name}"; finish it first`, 'ReleaseActive');
  }
  const details: ErrorDetail[] = [];
  const names = service.versions.map((v) => v.name);
  const baseline = spec.baseline ?? stableVersion(service);
  const baselineVersion = service.versions.find((v) => v.name === baseline);
  if (!baselineVersion)
    details.push({
      path: 'baseline',
      message: `version "${baseline}" does not exist in service "${service.name}" (it has ${names.join(', ')})`,
    });
  const candidate = spec.candidate.name;
  const existing = service.versions.find((v) => v.name === candidate);
  if (candidate === baseline) details.push({ path: 'candidate.name', message: `must differ from the baseline "${baseline}"` });
  if (existing && spec.candidate.workload) {
    details.push({ path: 'candidate.workload', message: `version "${candidate}" exists already; omit workload to release it as it is` });
  }
  details.push(...trafficProblems(spec, baseline, candidate));
  let newVersion: Version | null = null;
  if (details.length === 0 && !existing && baselineVersion) {
    try {
      newVersion = {
        name: candidate,
        labels: { ...baselineVersion.labels },
        workload: inheritWorkload(baselineVersion.workload, spec.candidate.workload),
      };
    } catch (err) {
      if (err instanceof InputError) details.push(...err.details);
      else throw err;
    }
  }
  if (details.length > 0) throw InputError.fromDetails(details);
  const status: ReleaseStatus = {
    phase: 'Pending',
    governor: null,
    observed: {},
    conditions: [condition('CandidateReady', false, 'Starting', `waiting for ${candidate} to become ready`, now)],
    candidateCreated: newVersion !== null,
  };
  return { baseline, newVersion, status };
}

/** Traffic may only name the release's two versions. */
export function trafficProblems(spec: Pick<ReleaseSpec, 'traffic'>, baseline: string, candidate: string): ErrorDetail[] {
  const allowed = new Set([baseline, candidate]);
  const details: ErrorDetail[] = [];
  const t = spec.traffic;
  if (t.weights) {
    for (const v of Object.keys(t.weights)) {
      if (!allowed.has(v))
        details.push({
          path: `traffic.weights.${v}`,
          message: `"${v}" is neither the baseline "${baseline}" nor the candidate "${candidate}"`,
        });
    }
  }
  if (t.mirror && !allowed.has(t.mirror.version)) {
    details.push({
      path: 'traffic.mirror.version',
      message: `"${t.mirror.version}" is neither the baseline "${baseline}" nor the candidate "${candidate}"`,
    });
  }
  if (t.rules) {
    for (const v of versionsInRules(trafficToRules(t, baseline, candidate))) {
      if (!allowed.has(v))
        details.push({
          path: 'traffic.rules',
          message: `version "${v}" is neither the baseline "${baseline}" nor the candidate "${candidate}"`,
        });
    }
  }
  return details;
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

function requireVersionOf(release: Release, version: string, action: string): void {
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

/** Checks that finishing may keep `keep`; returns the version to retire, if any. */
export function planFinish(release: Release, keep: string): { retire: string | null } {
  requireVersionOf(release, keep, 'finish keeping');
  const other = keep === release.baseline ? release.candidate.name : release.baseline;
  return { retire: other };
}
