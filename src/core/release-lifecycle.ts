import { ConflictError, InputError, NotAllowedError, type ErrorDetail } from './errors.js';
import type { Condition, Release, ReleaseSpec, ReleaseStatus, Service, Traffic, Version } from './model.js';
import { condition, FINISHING, isFinishing } from './release-phases.js';
import { strategyOf } from './strategies/registry.js';
import { stableVersion } from './traffic.js';
import { inheritWorkload } from './workload-inheritance.js';

/**
 * The life of a release from creation to finish (DESIGN.md "Release lifecycle"): planning a new release
 * against its service, the phases every strategy shares (release-phases.ts, re-exported here), and finishing:
 * all traffic to the kept version, a drain period marked by the Finishing condition, then the other retires.
 */

export {
  FINISHING,
  isCandidateReady,
  isFinishing,
  markCandidateFailed,
  markCandidateReady,
  resume,
  retiredBy,
  rollback,
  takeover,
} from './release-phases.js';

export interface ReleasePlan {
  baseline: string;
  /** The version to add to the service when the candidate does not exist yet. */
  newVersion: Version | null;
  /** The release's traffic, or its strategy's default when it gave none. */
  traffic: Traffic;
  status: ReleaseStatus;
}

/** Checks a new release against its service, its strategy and the active release, and plans its first state. */
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
  const strategy = strategyOf(spec);
  details.push(...strategy.trafficProblems(spec.traffic, baseline, candidate));
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
  return { baseline, newVersion, traffic: spec.traffic ?? strategy.defaultTraffic(baseline, candidate), status };
}

/** A finishing release takes no other change: `action` names the refused one. */
export function requireNotFinishing(release: Release, action: string): Release {
  if (isFinishing(release)) throw new NotAllowedError(`cannot ${action} release "${release.name}": it is finishing`);
  return release;
}

/** Checks that finishing may keep `keep`; returns the version to retire. */
export function planFinish(release: Release, keep: string): { retire: string } {
  return strategyOf(release).finish(release, keep);
}

/** The status while finishing: the kept version governs (100%) and the Finishing condition says what retires. */
export function finishingStatus(release: Release, keep: string, now: string): ReleaseStatus {
  const { retire } = planFinish(release, keep);
  const finishing: Condition = {
    type: FINISHING,
    status: 'True',
    reason: 'Draining',
    message: `keeping ${keep}, retiring ${retire} after the drain period`,
    at: now,
  };
  return {
    ...release.status,
    phase: keep === release.baseline ? 'RolledBack' : 'TakenOver',
    governor: keep,
    conditions: [...release.status.conditions.filter((c) => c.type !== FINISHING), finishing],
  };
}
