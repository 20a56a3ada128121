import { ConflictError } from '../core/index.js';
import { KubeApiError, type KubeClient } from './kube-client.js';
import { FIELD_MANAGER, type KubeObject, describeObject, resourceOf } from './kube-object.js';
import { type PlanAction, planChanges } from './plan.js';

export interface TrafficApplierOptions {
  fieldManager?: string;
}

export interface ApplyChangesOptions {
  /** Objects to delete (as read from the cluster, or just kind + metadata). */
  deletes?: KubeObject[];
  /** Take over objects Canary Mesh did not create and fields others changed (force the apply). */
  adopt?: boolean;
  /** Only plan: read the cluster, change nothing. */
  dryRun?: boolean;
}

/**
 * Applies rendered objects (Deployments, DestinationRules, VirtualServices, HTTPRoutes, Services) with
 * server-side apply under one field manager. It never overwrites what it did not create, nor a field
 * someone else changed since, unless told to adopt; every object is checked before any is changed.
 */
export class TrafficApplier {
  private readonly fieldManager: string;

  constructor(
    private readonly client: KubeClient,
    options: TrafficApplierOptions = {},
  ) {
    this.fieldManager = options.fieldManager ?? FIELD_MANAGER;
  }

  /** What applying would do, read from the cluster; changes nothing. */
  async plan(desired: KubeObject[], opts: ApplyChangesOptions = {}): Promise<PlanAction[]> {
    const current = await Promise.all(
      desired.map((o) => this.client.get(resourceOf(o), o.metadata.name, o.metadata.namespace ?? this.client.namespace)),
    );
    const deletes = (
      await Promise.all(
        (opts.deletes ?? []).map((o) => this.client.get(resourceOf(o), o.metadata.name, o.metadata.namespace ?? this.client.namespace)),
      )
    ).filter((o): o is KubeObject => o !== undefined);
    return planChanges(desired, current, deletes, { adopt: opts.adopt ?? false, fieldManager: this.fieldManager });
  }

  /**
   * Plans, refuses the whole change with a ConflictError when any object is someone else's, else applies in
   * order and deletes. Returns the plan as carried out (or, with dryRun, as it would be).
   */
  async apply(desired: KubeObject[], opts: ApplyChangesOptions = {}): Promise<PlanAction[]> {
    const actions = await this.plan(desired, opts);
    const refused = actions.filter((a) => a.action === 'refuse');
    if (refused.length > 0) throw new ConflictError(refused.map((a) => a.reason).join('\n'), 'NotOwned');
    if (opts.dryRun) return actions;
    for (const a of actions) {
      if (a.action === 'unchanged') continue;
      if (a.action === 'delete') {
        await this.client.delete(resourceOf(a.object), a.object.metadata.name, a.object.metadata.namespace ?? this.client.namespace);
        continue;
      }
      try {
        await this.client.apply(a.object, { fieldManager: this.fieldManager, force: opts.adopt ?? false });
      } catch (err) {
        // Someone changed a field of ours between our read and our write.
        if (err instanceof KubeApiError && err.status === 409) {
          const fields = err.causes.map((c) => `${c.field} (${c.message})`).join(', ');
          throw new ConflictError(
            `${describeObject(a.object)} was changed by someone else: ${fields || err.message}; their change is not overwritten. Rerun with --adopt to overwrite it`,
            'NotOwned',
          );
        }
        throw err;
      }
    }
    return actions;
  }
}
