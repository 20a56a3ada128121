import {
  type Condition,
  type ErrorDetail,
  InputError,
  isCandidateReady,
  markCandidateFailed,
  markCandidateReady,
  NotAllowedError,
  NotFoundError,
  ConflictError,
  parseOrThrow,
  PatchReleaseBody,
  planFinish,
  planRelease,
  PutOutlierDetectionBody,
  PutRoutesBody,
  type Release,
  ReleaseSpec,
  type ReleaseStatus,
  resume as resumeStatus,
  rollback as rollbackStatus,
  type Rule,
  type Service,
  ServiceSpec,
  takeover as takeoverStatus,
  TakeoverBody as TakeoverBodySchema,
  trafficProblems,
  Version,
  versionsInRules,
  Workload,
} from '../core/index.js';
import type { SqliteStore, StoreWriter } from '../store/index.js';
import type { InstanceStatus, VersionHealth, WorkloadRuntime } from '../workloads/workload-runtime.js';
import type { RouteTableFeed } from './route-table-feed.js';

export interface ReleaseControllerOptions {
  store: SqliteStore;
  runtime: WorkloadRuntime;
  feed: RouteTableFeed;
  /** Who the controller's own changes (candidate ready, failed, finished) are recorded as; default `controller`. */
  actor?: string;
  /** How long finishing waits after routing everything to the kept version before retiring the other (`drainGraceMs`). */
  drainGraceMs: number;
  log?: { info(msg: string): void; warn(msg: string): void; error(obj: unknown, msg: string): void };
}

export interface ServiceStatus {
  release: string | null;
  versions: { name: string; health: VersionHealth; instances: InstanceStatus[] }[];
}

export interface FinishResult {
  release: string;
  service: string;
  kept: string;
  retired: string;
}

/** Options of a mutating call: `dryRun` validates and computes the result in a transaction that is then undone. */
export interface ChangeOptions {
  dryRun?: boolean;
}

/** Thrown inside a dry-run transaction to undo it while carrying its result out. */
class DryRunRollback {
  constructor(readonly result: unknown) {}
}

const FINISHING = 'Finishing';

function isFinishing(r: Release): boolean {
  return r.status.conditions.some((c) => c.type === FINISHING && c.status === 'True');
}

/** The version a finishing release retires: the other one (DESIGN: "keep one version, retire the other's workload"). */
function retiredBy(r: Release, keep: string): string {
  return keep === r.baseline ? r.candidate.name : r.baseline;
}

/** Route rules may only name versions the service has. */
function routeVersionProblems(rules: Rule[], service: Pick<Service, 'name' | 'versions'>, path: string): ErrorDetail[] {
  const names = service.versions.map((v) => v.name);
  const problems: ErrorDetail[] = [];
  rules.forEach((rule, i) => {
    rule.route.forEach((d, j) => {
      if (!names.includes(d.version)) {
        problems.push({
          path: `${path}.${i}.route.${j}.version`,
          message: `version "${d.version}" does not exist in service "${service.name}" (it has ${names.join(', ')})`,
        });
      }
    });
    if (rule.mirror && !names.includes(rule.mirror.version)) {
      problems.push({
        path: `${path}.${i}.mirror.version`,
        message: `version "${rule.mirror.version}" does not exist in service "${service.name}" (it has ${names.join(', ')})`,
      });
    }
  });
  return problems;
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
 * Applies every change of desired state: validates it with the core, writes it and its event in one store
 * transaction, asks the workload runtime to reconcile, and refreshes the route table. It also drives
 * releases forward on its own: Pending -> Progressing when the candidate is ready, -> Failed when it cannot start.
 */
export class ReleaseController {
  private readonly store: SqliteStore;
  private readonly runtime: WorkloadRuntime;
  private readonly feed: RouteTableFeed;
  private readonly actor: string;
  private readonly drainGraceMs: number;
  private readonly log: NonNullable<ReleaseControllerOptions['log']>;
  private reconciling: Promise<void> = Promise.resolve();
  private ticker: NodeJS.Timeout | null = null;
  private changeTimer: NodeJS.Timeout | null = null;
  private readonly drains = new Set<NodeJS.Timeout>();
  private readonly drainWaiters = new Set<() => void>();
  private closed = false;

  constructor(options: ReleaseControllerOptions) {
    this.store = options.store;
    this.runtime = options.runtime;
    this.feed = options.feed;
    this.actor = options.actor ?? 'controller';
    this.drainGraceMs = options.drainGraceMs;
    this.log = options.log ?? { info() {}, warn() {}, error() {} };
  }

  /** Starts the workloads the store wants, follows runtime changes, and completes finishes cut short by a restart. */
  async start(): Promise<void> {
    this.runtime.onChange(() => {
      if (this.closed || this.changeTimer) return;
      this.changeTimer = setTimeout(() => {
        this.changeTimer = null;
        this.afterRuntimeChange();
      }, 5);
    });
    // A safety net for runtimes that report readiness late or not at all.
    this.ticker = setInterval(() => this.afterRuntimeChange(), 1000);
    this.ticker.unref();
    for (const r of this.store.listReleases()) {
      if (isFinishing(r)) this.scheduleCompleteFinish(r.name, this.drainGraceMs);
    }
    await this.reconcile();
  }

  close(): void {
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    if (this.changeTimer) clearTimeout(this.changeTimer);
    for (const t of this.drains) clearTimeout(t);
    this.drains.clear();
    for (const resolve of this.drainWaiters) resolve();
    this.drainWaiters.clear();
  }

  /** Waits for the runtime to reach the current desired state. */
  reconcile(): Promise<void> {
    const run = this.reconciling.then(async () => {
      if (this.closed) return;
      const desired = this.store.listServices().flatMap((s) => s.versions.map((version) => ({ service: s.name, version })));
      try {
        await this.runtime.reconcile(desired);
      } catch (err) {
        this.log.error({ err }, 'workload reconcile failed');
      }
      this.afterRuntimeChange();
    });
    this.reconciling = run;
    return run;
  }

  serviceStatus(service: Service): ServiceStatus {
    return {
      release: this.store.releaseOf(service.name)?.name ?? null,
      versions: service.versions.map((v) => ({
        name: v.name,
        health: this.runtime.health(service.name, v.name),
        instances: this.runtime.instances(service.name, v.name),
      })),
    };
  }

  // ---- services -------------------------------------------------------------------------------------------

  async createService(input: unknown, actor: string): Promise<Service> {
    const spec = parseOrThrow(ServiceSpec, input);
    const problems = routeVersionProblems(spec.routes, spec, 'routes');
    if (problems.length) throw InputError.fromDetails(problems);
    const svc = this.change((w) => {
      const created = w.createService(spec, actor);
      this.event(
        w,
        actor,
        'service.created',
        'service',
        created.name,
        null,
        created,
        `service "${created.name}" registered with ${created.versions.map((v) => v.name).join(', ')}`,
      );
      return created;
    });
    await this.reconcile();
    return svc;
  }

  /** `reason` replaces the event's message (cluster mode: why the service left). */
  async deleteService(name: string, actor: string, reason?: string): Promise<Service> {
    const svc = this.change((w) => {
      const current = this.store.requireService(name);
      const release = this.store.releaseOf(name);
      if (release)
        throw new NotAllowedError(`service "${name}" has an active release "${release.name}"; finish it before deleting the service`);
      w.deleteService(name);
      this.event(w, actor, 'service.deleted', 'service', name, current, null, reason ?? `service "${name}" deleted; its workloads stop`);
      return current;
    });
    await this.reconcile();
    return svc;
  }

  async addVersion(serviceName: string, input: unknown, actor: string): Promise<Service> {
    const version = parseOrThrow(Version, input);
    const svc = this.change((w) => {
      const current = this.store.requireService(serviceName);
      if (current.versions.some((v) => v.name === version.name)) {
        throw new ConflictError(`version "${version.name}" exists already in service "${serviceName}"`, 'AlreadyExists');
      }
      const updated = w.updateService({ ...current, versions: [...current.versions, version] });
      this.event(
        w,
        actor,
        'version.added',
        'service',
        serviceName,
        current,
        updated,
        `version "${version.name}" added to "${serviceName}"`,
      );
      return updated;
    });
    await this.reconcile();
    return svc;
  }

  async deleteVersion(serviceName: string, versionName: string, actor: string): Promise<Service> {
    const svc = this.change((w) => {
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
      this.event(
        w,
        actor,
        'version.removed',
        'service',
        serviceName,
        current,
        updated,
        `version "${versionName}" removed from "${serviceName}"; its workload stops`,
      );
      return updated;
    });
    await this.reconcile();
    return svc;
  }

  /**
   * Replaces the workload of an existing version with what actually runs (cluster mode: its Deployment's image,
   * env, args or replicas changed in the cluster). Routing is unchanged; nothing is started or stopped.
   */
  async updateVersionWorkload(serviceName: string, versionName: string, input: unknown, actor: string): Promise<Service> {
    const workload = parseOrThrow(Workload, input);
    const svc = this.change((w) => {
      const current = this.store.requireService(serviceName);
      const version = current.versions.find((v) => v.name === versionName);
      if (!version) throw new NotFoundError(`version "${versionName}" does not exist in service "${serviceName}"`);
      const changed = workloadChanges(version.workload, workload);
      if (changed.length === 0) return current;
      const updated = w.updateService({
        ...current,
        versions: current.versions.map((v) => (v.name === versionName ? { ...v, workload } : v)),
      });
      this.event(
        w,
        actor,
        'version.updated',
        'service',
        serviceName,
        current,
        updated,
        `workload of "${serviceName}" ${versionName} changed: ${changed.join('; ')}`,
      );
      return updated;
    });
    await this.reconcile();
    return svc;
  }

  putRoutes(serviceName: string, input: unknown, actor: string, ifMatch?: string, opts: ChangeOptions = {}): Service {
    const { rules } = parseOrThrow(PutRoutesBody, input);
    return this.change((w) => {
      const current = this.store.requireService(serviceName);
      const release = this.store.releaseOf(serviceName);
      if (release) {
        throw new NotAllowedError(
          `the routes of "${serviceName}" belong to release "${release.name}" while it is active; change the release's traffic, or finish it first`,
        );
      }
      const problems = routeVersionProblems(rules, current, 'rules');
      if (problems.length) throw InputError.fromDetails(problems);
      const updated = w.updateService({ ...current, routes: rules }, ifMatch);
      this.event(
        w,
        actor,
        'routes.updated',
        'service',
        serviceName,
        current,
        updated,
        `routes of "${serviceName}" replaced (${rules.length} rules)`,
      );
      return updated;
    }, opts);
  }

  /** Replaces the service's outlier detection; proxies get it with the next route table. */
  putOutlierDetection(serviceName: string, input: unknown, actor: string, ifMatch?: string, opts: ChangeOptions = {}): Service {
    const { outlierDetection } = parseOrThrow(PutOutlierDetectionBody, input);
    return this.change((w) => {
      const current = this.store.requireService(serviceName);
      const updated = w.updateService({ ...current, outlierDetection }, ifMatch);
      this.event(
        w,
        actor,
        'outlierDetection.updated',
        'service',
        serviceName,
        current,
        updated,
        `outlier detection of "${serviceName}" set to ${JSON.stringify(outlierDetection)}`,
      );
      return updated;
    }, opts);
  }

  // ---- releases -------------------------------------------------------------------------------------------

  async createRelease(input: unknown, actor: string, opts: ChangeOptions = {}): Promise<Release> {
    const spec = parseOrThrow(ReleaseSpec, input);
    const release = this.change((w) => {
      if (this.store.getRelease(spec.name)) throw new ConflictError(`release "${spec.name}" exists already`, 'AlreadyExists');
      const svc = this.store.getService(spec.service);
      if (!svc)
        throw new InputError(`service: service "${spec.service}" does not exist`, [
          { path: 'service', message: `service "${spec.service}" does not exist` },
        ]);
      const plan = planRelease(spec, svc, this.store.releaseOf(svc.name), w.now);
      if (plan.newVersion) {
        const updated = w.updateService({ ...svc, versions: [...svc.versions, plan.newVersion] });
        this.event(
          w,
          actor,
          'version.added',
          'service',
          svc.name,
          svc,
          updated,
          `version "${plan.newVersion.name}" added to "${svc.name}" for release "${spec.name}"`,
          spec.name,
        );
      }
      const { baseline: _given, ...rest } = spec;
      const created = w.createRelease({ ...rest, baseline: plan.baseline, status: plan.status }, actor);
      this.event(
        w,
        actor,
        'release.created',
        'release',
        created.name,
        null,
        created,
        `release "${created.name}" created: ${plan.baseline} -> ${spec.candidate.name}; waiting for ${spec.candidate.name} to become ready`,
      );
      return created;
    }, opts);
    if (opts.dryRun) return release;
    await this.reconcile();
    return this.store.getRelease(release.name) ?? release;
  }

  patchRelease(name: string, input: unknown, actor: string, ifMatch?: string, opts: ChangeOptions = {}): Release {
    const { traffic } = parseOrThrow(PatchReleaseBody, input);
    return this.change((w) => {
      const current = this.activeRelease(name, 'change the traffic of');
      const problems = trafficProblems({ traffic }, current.baseline, current.candidate.name);
      if (problems.length) throw InputError.fromDetails(problems);
      const updated = w.updateRelease(name, { traffic }, ifMatch);
      const note = current.status.governor ? ` (governor ${current.status.governor} stays in force until resume)` : '';
      this.event(w, actor, 'release.traffic-changed', 'release', name, current, updated, `traffic of "${name}" changed${note}`);
      return updated;
    }, opts);
  }

  takeover(name: string, input: unknown, actor: string, ifMatch?: string, opts: ChangeOptions = {}): Release {
    const { version } = parseOrThrow(TakeoverBodySchema, input);
    return this.transition(
      name,
      actor,
      ifMatch,
      'release.taken-over',
      'take over',
      (r) => takeoverStatus(r, version),
      () => `${version} takes 100% of "${name}"`,
      opts,
    );
  }

  rollback(name: string, actor: string, ifMatch?: string, opts: ChangeOptions = {}): Release {
    return this.transition(
      name,
      actor,
      ifMatch,
      'release.rolled-back',
      'roll back',
      (r) => rollbackStatus(r),
      (r) => `rolled back: ${r.baseline} takes 100% of "${name}"`,
      opts,
    );
  }

  resume(name: string, actor: string, ifMatch?: string, opts: ChangeOptions = {}): Release {
    return this.transition(
      name,
      actor,
      ifMatch,
      'release.resumed',
      'resume',
      (r) => resumeStatus(r),
      () => `governor cleared: the traffic rules of "${name}" apply again`,
      opts,
    );
  }

  /**
   * Finishes a release keeping one version: routes everything to it at once, waits the drain grace period so
   * proxies apply that and requests in flight end, then removes the other version and stops its workload.
   */
  async finishRelease(name: string, keep: string | undefined, actor: string, opts: ChangeOptions = {}): Promise<FinishResult> {
    const before = this.store.requireRelease(name);
    if (keep === undefined) {
      throw new InputError(`keep: required: the version to keep ("${before.baseline}" or "${before.candidate.name}")`, [
        { path: 'keep', message: 'required' },
      ]);
    }
    const planned = this.change((w): FinishResult => {
      const current = this.activeRelease(name, 'finish');
      planFinish(current, keep);
      const retire = retiredBy(current, keep);
      const finishing: Condition = {
        type: FINISHING,
        status: 'True',
        reason: 'Draining',
        message: `keeping ${keep}, retiring ${retire} after the drain period`,
        at: w.now,
      };
      const status: ReleaseStatus = {
        ...current.status,
        phase: keep === current.baseline ? 'RolledBack' : 'TakenOver',
        governor: keep,
        conditions: [...current.status.conditions.filter((c) => c.type !== FINISHING), finishing],
      };
      const updated = w.updateRelease(name, { status });
      this.event(
        w,
        actor,
        'release.finishing',
        'release',
        name,
        current,
        updated,
        `finishing "${name}": all traffic to ${keep}; ${retire} retires in ${this.drainGraceMs} ms`,
      );
      return { release: name, service: current.service, kept: keep, retired: retire };
    }, opts);
    if (opts.dryRun) return planned;
    this.feed.flush(); // push the single-version table to proxies now, not after the debounce
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.drains.delete(t);
        this.drainWaiters.delete(resolve);
        resolve();
      }, this.drainGraceMs);
      this.drains.add(t);
      this.drainWaiters.add(resolve); // close() ends the wait early
    });
    if (this.closed)
      throw new ConflictError(`the control plane is shutting down; release "${name}" finishes when it starts again`, 'ShuttingDown');
    return this.completeFinish(name, actor);
  }

  // ---- internals ------------------------------------------------------------------------------------------

  private async completeFinish(name: string, actor: string): Promise<FinishResult> {
    const result = this.change((w): FinishResult => {
      const current = this.store.requireRelease(name);
      const keep = current.status.governor!;
      const retire = retiredBy(current, keep);
      const svc = this.store.requireService(current.service);
      const kept = svc.versions.find((v) => v.name === keep)!;
      // The kept version becomes the stable one (first) and routing returns to it alone.
      const versions = [kept, ...svc.versions.filter((v) => v.name !== keep && v.name !== retire)];
      const updated = w.updateService({ ...svc, versions, routes: [] });
      this.event(
        w,
        actor,
        'version.removed',
        'service',
        svc.name,
        svc,
        updated,
        `version "${retire}" removed from "${svc.name}"; all traffic goes to ${keep}; the workload of ${retire} stops`,
        name,
      );
      w.deleteRelease(name);
      this.event(
        w,
        actor,
        'release.finished',
        'release',
        name,
        current,
        null,
        `release "${name}" finished: kept ${keep}, retired ${retire}`,
      );
      return { release: name, service: svc.name, kept: keep, retired: retire };
    });
    await this.reconcile();
    return result;
  }

  private scheduleCompleteFinish(name: string, delayMs: number): void {
    const t = setTimeout(() => {
      this.drains.delete(t);
      if (this.closed || !this.store.getRelease(name)) return;
      this.completeFinish(name, this.actor).catch((err) => this.log.error({ err }, `finishing release "${name}" failed`));
    }, delayMs);
    this.drains.add(t);
  }

  private activeRelease(name: string, action: string): Release {
    const r = this.store.requireRelease(name);
    if (isFinishing(r)) throw new NotAllowedError(`cannot ${action} release "${name}": it is finishing`);
    return r;
  }

  private transition(
    name: string,
    actor: string,
    ifMatch: string | undefined,
    action: string,
    verb: string,
    next: (r: Release) => ReleaseStatus,
    message: (r: Release) => string,
    opts: ChangeOptions = {},
  ): Release {
    return this.change((w) => {
      const current = this.activeRelease(name, verb);
      const status = next(current);
      const updated = w.updateRelease(name, { status }, ifMatch);
      this.event(w, actor, action, 'release', name, current, updated, message(current));
      return updated;
    }, opts);
  }

  /**
   * One transaction; the route table is refreshed after it commits. A dry run makes every check and write of
   * `fn` and then undoes the transaction, so it fails exactly when the real change would, and changes nothing.
   */
  private change<T>(fn: (w: StoreWriter) => T, opts: ChangeOptions = {}): T {
    if (opts.dryRun) {
      try {
        this.store.write((w) => {
          throw new DryRunRollback(fn(w));
        });
      } catch (err) {
        if (err instanceof DryRunRollback) return err.result as T;
        throw err;
      }
      throw new Error('dry run: the transaction was not undone');
    }
    const result = this.store.write(fn);
    this.feed.invalidate();
    return result;
  }

  private event(
    w: StoreWriter,
    actor: string,
    action: string,
    resourceKind: 'service' | 'release',
    resourceName: string,
    before: unknown,
    after: unknown,
    message: string,
    release?: string,
  ): void {
    w.appendEvent({
      actor,
      action,
      resourceKind,
      resourceName,
      release: release ?? (resourceKind === 'release' ? resourceName : null),
      before,
      after,
      message,
    });
  }

  /** Moves Pending releases on when their candidate's health changes, and refreshes the route table. */
  private afterRuntimeChange(): void {
    if (this.closed) return;
    this.feed.invalidate();
    for (const r of this.store.listReleases()) {
      if (isFinishing(r) || isCandidateReady(r)) continue;
      const health = this.runtime.health(r.service, r.candidate.name);
      const failedAlready = r.status.conditions.some(
        (c) => c.type === 'CandidateReady' && c.reason === 'Failed' && c.message === health.reason,
      );
      if (!health.ready && (!health.failed || failedAlready)) continue;
      try {
        this.change((w) => {
          const current = this.store.getRelease(r.name);
          if (!current || current.resourceVersion !== r.resourceVersion) return; // changed meanwhile; next round
          if (health.ready) {
            const updated = w.updateRelease(r.name, { status: markCandidateReady(current, w.now) });
            this.event(
              w,
              this.actor,
              'release.candidate-ready',
              'release',
              r.name,
              current,
              updated,
              `${r.candidate.name} is ready (${health.reason}); traffic rules in force`,
            );
          } else {
            const updated = w.updateRelease(r.name, { status: markCandidateFailed(current, health.reason, w.now) });
            this.event(
              w,
              this.actor,
              'release.candidate-failed',
              'release',
              r.name,
              current,
              updated,
              `${r.candidate.name} failed: ${health.reason}`,
            );
          }
        });
      } catch (err) {
        this.log.error({ err }, `updating release "${r.name}" after a runtime change failed`);
      }
    }
  }
}
