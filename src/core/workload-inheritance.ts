import { InputError } from './errors.js';
import { Workload, type PartialWorkload } from './model.js';
import { zodDetails } from './validation.js';

/**
 * A candidate's workload from the baseline's and the fields the candidate gives, as KubeSphere clones the
 * baseline Deployment and swaps its image: env maps merge, every other given field replaces the baseline's.
 */
export function inheritWorkload(baseline: Workload, partial: PartialWorkload | undefined, path = 'candidate.workload'): Workload {
  if (!partial) return baseline;
  const kind = partial.kind ?? baseline.kind;
  const base: Record<string, unknown> = kind === baseline.kind ? { ...baseline } : { kind };
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(partial)) {
    if (value === undefined) continue;
    if (key === 'env') merged.env = { ...((base.env as Record<string, string> | undefined) ?? {}), ...(value as Record<string, string>) };
    else merged[key] = value;
  }
  const result = Workload.safeParse(merged);
  if (!result.success) throw InputError.fromDetails(zodDetails(result.error, path.split('.')));
  return result.data;
}
