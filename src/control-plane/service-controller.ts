import {
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
  parseOrThrow,
  PutOutlierDetectionBody,
  PutRoutesBody,
  ruleVersionProblems,
  type Service,
  ServiceSpec,
  Version,
  versionsInRules,
  Workload,
} from '../core/index.js';
import type { InstanceStatus, VersionHealth } from '../workloads/workload-runtime.js';
import { type ChangeOptions, type DesiredState, record } from './desired-state.js';

export interface ServiceStatus {
  release: string | null;
  versions: { name: string; health: VersionHealth; instances: InstanceStatus[] }[];
}

/** What differs between two workloads, field by field: `image a -> b`, `env SERVICE_VERSION`. */
function workloadChanges(before: Workload, after: Workload): string[] {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  const out: string[] = [];
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[key];
    const y = b[key];
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    if (key === 'env' || key === 'labels') {
      const ex = (x ?? {}) as Record<string, string>;
      const ey = (y ?? {}) as Record<string, string>;
      const names = [...new Set([...Object.keys(ex), ...Object.keys(ey)])].filter((n) => ex[n] !== ey[n]).sort();
      if (names.length > 0) out.push(`${key} ${names.join(', ')}`);
    } else if (typeof x === 'object' || typeof y === 'object') out.push(key);
    else out.push(`${key} ${x ?? '(none)'} -> ${y ?? '(none)'}`);
  }
  return out;
}

/**
 * Services, their versions, routes and outlier detection: validates each change with the core, writes it and its
 * event in one transaction, and has the workload runtime start or stop what the change implies.
 */
export class ServiceController {
  constructor(private readonly state: DesiredState) {}

  private get store() {
    return this.state.store;
  }

  serviceStatus(service: Service): ServiceStatus {
    const { runtime } = this.state;
    return {
      release: this.store.releaseOf(service.name)?.name ?? null,
      versions: service.versions.map((v) => ({
        name: v.name,
        health: runtime.health(service.name, v.name),
        instances: runtime.instances(service.name, v.name),
      })),
    };
  }

  async createService(input: unknown, actor: string): Promise<Service> {
    const spec = parseOrThrow(ServiceSpec, input);
    const problems = ruleVersionProblems(spec.routes, spec, 'routes');
    if (problems.length) throw InputError.fromDetails(problems);
    const svc = this.state.change((w) => {
      const created = w.createService(spec, actor);
      const versions = created.versions.map((v) => v.name).join(', ');
      const message = `service "${created.name}" registered with ${versions}`;
      record(w, { type: 'service.created', actor, service: created.name, before: null, after: created, message });
      return created;
    });
    await this.state.reconcile();
    return svc;
  }

  /** `reason` replaces the event's message (cluster mode: why the service left). */
  async deleteService(name: string, actor: string, reason?: string): Promise<Service> {
    const svc = this.state.change((w) => {
      const current = this.store.requireService(name);
      const release = this.store.releaseOf(name);
      if (release)
        throw new NotAllowedError(`service "${name}" has an active release "${release.name}"; finish it before deleting the service`);
      w.deleteService(name);
      const message = reason ?? `service "${name}" deleted; its workloads stop`;
      record(w, { type: 'service.deleted', actor, service: name, before: current, after: null, message });
      return current;
    });
    await this.state.reconcile();
    return svc;
  }

  async addVersion(serviceName: string, input: unknown, actor: string): Promise<Service> {
    const version = parseOrThrow(Version, input);
    const svc = this.state.change((w) => {
      const current = this.store.requireService(serviceName);
      if (current.versions.some((v) => v.name === version.name)) {
        throw new ConflictError(`version "${version.name}" exists already in service "${serviceName}"`, 'AlreadyExists');
      }
      const updated = w.updateService({ ...current, versions: [...current.versions, version] });
      const message = `version "${version.name}" added to "${serviceName}"`;
      record(w, { type: 'version.added', actor, service: serviceName, before: current, after: updated, message });
      return updated;
    });
    await this.state.reconcile();
    return svc;
  }

  async deleteVersion(serviceName: string, versionName: string, actor: string): Promise<Service> {
    const svc = this.state.change((w) => {
      const current = this.store.requireService(serviceName);
      if (!current.versions.some((v) => v.name === versionName)) {
        throw new NotFoundError(`version "${versionName}" does not exist in service "${serviceName}"`);
      }
      const release = this.store.releaseOf(serviceName);
      if (release && (release.baseline === versionName || release.candidate.name === versionName)) {
        throw new NotAllowedError(`version "${versionName}" is used by release "${release.name}"; finish the release first`);
      }
      if (versionsInRules(current.routes).has(versionName)) {
        throw new NotAllowedError(`version "${versionName}" is named by the routes of "${serviceName}"; change the routes first`);
      }
      if (current.versions.length === 1)
        throw new NotAllowedError(`version "${versionName}" is the only version of "${serviceName}"; delete the service instead`);
      if (current.routes.length === 0 && current.versions[0]!.name === versionName) {
        throw new NotAllowedError(
          `version "${versionName}" is the stable version of "${serviceName}" and serves all its traffic; route traffic elsewhere first`,
        );
      }
      const updated = w.updateService({ ...current, versions: current.versions.filter((v) => v.name !== versionName) });
      const message = `version "${versionName}" removed from "${serviceName}"; its workload stops`;
      record(w, { type: 'version.removed', actor, service: serviceName, before: current, after: updated, message });
      return updated;
    });
    await this.state.reconcile();
    return svc;
  }

  /**
   * Replaces the workload of an existing version with what actually runs (cluster mode: its Deployment's image,
   * env, args or replicas changed in the cluster). Routing is unchanged; nothing is started or stopped.
   */
  async updateVersionWorkload(serviceName: string, versionName: string, input: unknown, actor: string): Promise<Service> {
    const workload = parseOrThrow(Workload, input);
    const svc = this.state.change((w) => {
      const current = this.store.requireService(serviceName);
      const version = current.versions.find((v) => v.name === versionName);
      if (!version) throw new NotFoundError(`version "${versionName}" does not exist in service "${serviceName}"`);
      const changed = workloadChanges(version.workload, workload);
      if (changed.length === 0) return current;
      const updated = w.updateService({
        ...current,
        versions: current.versions.map((v) => (v.name === versionName ? { ...v, workload } : v)),
      });
      const message = `workload of "${serviceName}" ${versionName} changed: ${changed.join('; ')}`;
      record(w, { type: 'version.updated', actor, service: serviceName, before: current, after: updated, message });
      return updated;
    });
    await this.state.reconcile();
    return svc;
  }

  putRoutes(serviceName: string, input: unknown, actor: string, ifMatch?: string, opts: ChangeOptions = {}): Service {
    const { rules } = parseOrThrow(PutRoutesBody, input);
    return this.state.change((w) => {
      const current = this.store.requireService(serviceName);
      const release = this.store.releaseOf(serviceName);
      if (release) {
        throw new NotAllowedError(
          `the routes of "${serviceName}" belong to release "${release.name}" while it is active; change the release's traffic, or finish it first`,
        );
      }
      const problems = ruleVersionProblems(rules, current, 'rules');
      if (problems.length) throw InputError.fromDetails(problems);
      const updated = w.updateService({ ...current, routes: rules }, ifMatch);
      const message = `routes of "${serviceName}" replaced (${rules.length} rules)`;
      record(w, { type: 'routes.updated', actor, service: serviceName, before: current, after: updated, message });
      return updated;
    }, opts);
  }

  /** Replaces the service's outlier detection; proxies get it with the next route table. */
  putOutlierDetection(serviceName: string, input: unknown, actor: string, ifMatch?: string, opts: ChangeOptions = {}): Service {
    const { outlierDetection } = parseOrThrow(PutOutlierDetectionBody, input);
    return this.state.change((w) => {
      const current = this.store.requireService(serviceName);
      const updated = w.updateService({ ...current, outlierDetection }, ifMatch);
      const message = `outlier detection of "${serviceName}" set to ${JSON.stringify(outlierDetection)}`;
      record(w, { type: 'outlierDetection.updated', actor, service: serviceName, before: current, after: updated, message });
      return updated;
    }, opts);
  }
}
