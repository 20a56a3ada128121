import type { Release } from '../core/index.js';
import type { AnalysisRunner } from './analysis-runner.js';

/** Problems of a release's analysis block that depend on the control plane (what it can serve). */
export function analysisServeProblems(
  spec: { strategy?: string; analysis?: Release['analysis']; traffic?: unknown },
  runner: Pick<AnalysisRunner, 'canLoad' | 'answersPromQL'>,
): { path: string; message: string }[] {
  const a = spec.analysis;
  if (!a) return [];
  const out: { path: string; message: string }[] = [];
  if (spec.strategy !== undefined && spec.strategy !== 'canary')
    out.push({ path: 'analysis', message: `automated analysis drives strategy canary only, got "${spec.strategy}"` });
  if (a.load && !runner.canLoad)
    out.push({
      path: 'analysis.load',
      message: 'this control plane has no mesh ingress to send synthetic load to (cluster mode); leave load out',
    });
  (a.checks ?? []).forEach((c, i) => {
    if (c.metric === 'prometheus' && !runner.answersPromQL)
      out.push({
        path: `analysis.checks.${i}`,
        message: 'prometheus checks need cluster mode with --prometheus; locally use successRate and latencyP99',
      });
  });
  return out;
}
