import type { Service } from '../../api/types.js';
import { analysisProblem } from '../../release/build-analysis.js';
import { mirrorProblem, nameProblem, type ReleaseDraft } from '../../release/build-release.js';

/** One i18n key per step, or null when the step is complete. */
export function stepProblems(d: ReleaseDraft, service: Service | undefined): (string | null)[] {
  const basic = nameProblem(d.name);
  const svc = !d.service ? 'wizard.pickService' : !d.baseline ? 'wizard.pickBaseline' : null;
  let version = nameProblem(d.candidate);
  if (!version && d.candidate === d.baseline) version = 'wizard.sameAsBaseline';
  const existing = service?.versions.some((v) => v.name === d.candidate);
  const kind = service?.versions.find((v) => v.name === d.baseline)?.workload.kind;
  if (!version && !existing && kind === 'endpoints' && !d.addresses.trim()) version = 'wizard.needAddresses';
  if (!version && d.env.some((p) => p.value && !p.key.trim())) version = 'wizard.envKeyMissing';
  let strategy: string | null = null;
  if (d.mode === 'mirror') strategy = mirrorProblem(d);
  else if (d.mode === 'canary' && d.strategy === 'match') {
    if (d.conditions.length === 0) strategy = 'wizard.needCondition';
    else if (d.conditions.some((c) => c.kind !== 'os' && !c.value)) strategy = 'wizard.conditionValue';
    else if (d.conditions.some((c) => (c.kind === 'header' || c.kind === 'cookie') && !c.name.trim())) strategy = 'wizard.conditionName';
  } else if (d.mode === 'canary' && d.strategy === 'weights') strategy = analysisProblem(d.analysis);
  return [basic, svc, version, strategy];
}
