import { z } from 'zod';
import type { Release, Service } from '../core/index.js';
import type { WorkloadRuntime } from '../workloads/workload-runtime.js';

/** One step of a plan: what would happen to one object of the cluster (Kubernetes' plan, in the API's shape). */
export const PlanStepSchema = z.object({
  action: z.enum(['create', 'update', 'unchanged', 'delete', 'refuse']),
  kind: z.string(),
  name: z.string(),
  namespace: z.string().optional(),
  /** Fields that would change, e.g. `.spec.http`. */
  changes: z.array(z.string()),
  /** Why it is refused (someone else owns it), adopted, or left alone. */
  reason: z.string().optional(),
  /** The object as it would be written (for delete: as it is now). */
  object: z.record(z.string(), z.unknown()),
});
export type PlanStep = z.infer<typeof PlanStepSchema>;

export interface ChangePlan {
  steps: PlanStep[];
  /** The plan as `canary --dry-run` prints it: a line per object, then the YAML that would be written. */
  text: string;
}

/**
 * What a backend that writes to a cluster adds to the control plane: the plan of a release change before it is
 * made (for `?dryRun=true`, and to refuse, before anything is written, a change whose objects belong to
 * someone else), and a way to wait until the cluster reflects the store. Implemented by the cluster mode's
 * runtime; the local runtimes have nothing to plan.
 */
export interface ChangePlanner {
  /** Creating `release` on `service` as it is now (without the candidate): its Deployment and traffic objects. */
  planCreate(service: Service, release: Release): Promise<ChangePlan>;
  /** The traffic objects for `release` as it would be after a traffic change, takeover, rollback or resume. */
  planSync(service: Service, release: Release): Promise<ChangePlan>;
  /** Finishing `release` keeping `keep`: single-version routing, the retired version's objects deleted. */
  planFinish(service: Service, release: Release, keep: string): Promise<ChangePlan>;
  /** A service's own routes replaced (`PUT .../routes`, no release active): its traffic objects. */
  planRoutes(service: Service): Promise<ChangePlan>;
  /**
   * Why deleting the service through the API is refused (it is read from the cluster, which would bring it
   * back), or null when it may be deleted.
   */
  serviceDeleteProblem(name: string): string | null;
  /** Resolves once the cluster's traffic objects are applied for the store as it is now. */
  settle(): Promise<void>;
}

/** The runtime's planner, when it has one (cluster mode). */
export function changePlannerOf(runtime: WorkloadRuntime): ChangePlanner | null {
  const r = runtime as Partial<ChangePlanner>;
  return typeof r.planCreate === 'function' &&
    typeof r.planSync === 'function' &&
    typeof r.planFinish === 'function' &&
    typeof r.planRoutes === 'function'
    ? (runtime as unknown as ChangePlanner)
    : null;
}

/** A plan's refusals as one message, or null when nothing is refused. */
export function refusalsOf(plan: ChangePlan): string | null {
  const refused = plan.steps.filter((s) => s.action === 'refuse').map((s) => s.reason ?? `${s.kind} ${s.name} is refused`);
  return refused.length > 0 ? refused.join('\n') : null;
}

/** `?dryRun=true` (or `1`): validate and plan, write nothing. */
export const DryRunQuery = z.object({
  dryRun: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .meta({ description: 'true: validate the change and return its plan (the cluster objects it would write); nothing changes' }),
});

export function isDryRun(query: { dryRun?: string | undefined }): boolean {
  return query.dryRun === 'true' || query.dryRun === '1';
}
