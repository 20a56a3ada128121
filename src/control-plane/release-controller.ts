import {
  ConflictError,
  finishingStatus,
  InputError,
  isCandidateReady,
  isFinishing,
  markCandidateFailed,
  markCandidateReady,
  parseOrThrow,
  PatchReleaseBody,
  planRelease,
  type Release,
  type ReleaseChange,
  ReleaseSpec,
  requireNotFinishing,
  retiredBy,
  strategyOf,
  TakeoverBody,
} from '../core/index.js';
import { type ChangeOptions, type DesiredState, record } from './desired-state.js';
import { DrainTimers } from './drain-timers.js';

export interface ReleaseControllerOptions {
  state: DesiredState;
  /** Who the controller's own changes (candidate ready, failed, finished) are recorded as; default `controller`. */
  actor?: string;
  /** How long finishing waits after routing everything to the kept version before retiring the other (`drainGraceMs`). */
  drainGraceMs: number;
}

export interface FinishResult {
  release: string;
  service: string;
  kept: string;
  retired: string;
}

/**
 * Orchestrates release jobs: what a release may do and what its strategy routes come from the core
 * (release-lifecycle.ts, strategies/); this stores each change with its event, runs the workloads, follows the
 * candidate's readiness (Pending -> Progressing, or Failed when it cannot start) and times the drain of a finish.
 * Its public operations (create, patch, take over, roll back, resume, finish) are what the API and any automation call.
 */
export class ReleaseController {
  private readonly state: DesiredState;
  private readonly actor: string;
  private readonly drainGraceMs: number;
  private readonly drains = new DrainTimers();
  private ticker: NodeJS.Timeout | null = null;
  private changeTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(options: ReleaseControllerOptions) {
    this.state = options.state;
    this.actor = options.actor ?? 'controller';
    this.drainGraceMs = options.drainGraceMs;
    this.state.onReconciled(() => this.afterRuntimeChange());
  }

  private get store() {
    return this.state.store;
  }

  /** Starts the workloads the store wants, follows runtime changes, and completes finishes cut short by a restart. */
  async start(): Promise<void> {
    this.state.runtime.onChange(() => {
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
    await this.state.reconcile();
  }

  close(): void {
    this.closed = true;
    this.state.close();
    if (this.ticker) clearInterval(this.ticker);
    if (this.changeTimer) clearTimeout(this.changeTimer);
    this.drains.close();
  }

  async createRelease(input: unknown, actor: string, opts: ChangeOptions = {}): Promise<Release> {
    const spec = parseOrThrow(ReleaseSpec, input);
    const release = this.state.change((w) => {
      if (this.store.getRelease(spec.name)) throw new ConflictError(`release "${spec.name}" exists already`, 'AlreadyExists');
      const svc = this.store.getService(spec.service);
      if (!svc)
        throw new InputError(`service: service "${spec.service}" does not exist`, [
          { path: 'service', message: `service "${spec.service}" does not exist` },
        ]);
      const plan = planRelease(spec, svc, this.store.releaseOf(svc.name), w.now);
      if (plan.newVersion) {
        const updated = w.updateService({ ...svc, versions: [...svc.versions, plan.newVersion] });
        const message = `version "${plan.newVersion.name}" added to "${svc.name}" for release "${spec.name}"`;
        record(w, { type: 'version.added', actor, service: svc.name, release: spec.name, before: svc, after: updated, message });
      }
      const { name, service, strategy, candidate, ...rest } = spec;
      const { baseline, traffic, status } = plan;
      const created = w.createRelease({ name, service, strategy, ...rest, baseline, candidate, traffic, status }, actor);
      const message = `release "${name}" created (${strategy}): ${plan.baseline} -> ${candidate.name}; waiting for ${candidate.name} to become ready`;
      record(w, { type: 'release.created', actor, release: name, before: null, after: created, message });
      return created;
    }, opts);
    if (opts.dryRun) return release;
    await this.state.reconcile();
    return this.store.getRelease(release.name) ?? release;
  }

  patchRelease(name: string, input: unknown, actor: string, ifMatch?: string, opts: ChangeOptions = {}): Release {
    const { traffic } = parseOrThrow(PatchReleaseBody, input);
    return this.state.change((w) => {
      const current = requireNotFinishing(this.store.requireRelease(name), 'change the traffic of');
      const problems = strategyOf(current).trafficProblems(traffic, current.baseline, current.candidate.name);
      if (problems.length) throw InputError.fromDetails(problems);
      const updated = w.updateRelease(name, { traffic }, ifMatch);
      const note = current.status.governor ? ` (governor ${current.status.governor} stays in force until resume)` : '';
      const message = `traffic of "${name}" changed${note}`;
      record(w, { type: 'release.traffic-changed', actor, release: name, before: current, after: updated, message });
      return updated;
    }, opts);
  }

  /** `{"version": v}` takes 100% at once; what else that means is the strategy's (blueGreen: standby; mirror: a canary). */
  takeover(name: string, input: unknown, actor: string, ifMatch?: string, opts: ChangeOptions = {}): Release {
    const { version } = parseOrThrow(TakeoverBody, input);
    const change = (r: Release) => strategyOf(r).takeover(r, version);
    const message = (r: Release) =>
      r.strategy === 'mirror' && version === r.candidate.name
        ? `${version} takes 100% of "${name}"; mirroring ends and the release goes on as a canary`
        : `${version} takes 100% of "${name}"`;
    return this.transition(name, { type: 'release.taken-over', verb: 'take over', actor, ifMatch, change, message }, opts);
  }

  rollback(name: string, actor: string, ifMatch?: string, opts: ChangeOptions = {}): Release {
    const change = (r: Release) => strategyOf(r).rollback(r);
    const message = (r: Release) => `rolled back: ${r.baseline} takes 100% of "${name}"`;
    return this.transition(name, { type: 'release.rolled-back', verb: 'roll back', actor, ifMatch, change, message }, opts);
  }

  resume(name: string, actor: string, ifMatch?: string, opts: ChangeOptions = {}): Release {
    const change = (r: Release) => strategyOf(r).resume(r);
    const message = () => `governor cleared: the traffic rules of "${name}" apply again`;
    return this.transition(name, { type: 'release.resumed', verb: 'resume', actor, ifMatch, change, message }, opts);
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
    const planned = this.state.change((w): FinishResult => {
      const current = requireNotFinishing(this.store.requireRelease(name), 'finish');
      const updated = w.updateRelease(name, { status: finishingStatus(current, keep, w.now) });
      const retired = retiredBy(current, keep);
      const message = `finishing "${name}": all traffic to ${keep}; ${retired} retires in ${this.drainGraceMs} ms`;
      record(w, { type: 'release.finishing', actor, release: name, before: current, after: updated, message });
      return { release: name, service: current.service, kept: keep, retired };
    }, opts);
    if (opts.dryRun) return planned;
    this.state.feed.flush(); // push the single-version table to proxies now, not after the debounce
    await this.drains.wait(this.drainGraceMs);
    if (this.closed)
      throw new ConflictError(`the control plane is shutting down; release "${name}" finishes when it starts again`, 'ShuttingDown');
    return this.completeFinish(name, actor);
  }

  private async completeFinish(name: string, actor: string): Promise<FinishResult> {
    const result = this.state.change((w): FinishResult => {
      const current = this.store.requireRelease(name);
      const keep = current.status.governor!;
      const retire = retiredBy(current, keep);
      const svc = this.store.requireService(current.service);
      const kept = svc.versions.find((v) => v.name === keep)!;
      // The kept version becomes the stable one (first) and routing returns to it alone.
      const versions = [kept, ...svc.versions.filter((v) => v.name !== keep && v.name !== retire)];
      const updated = w.updateService({ ...svc, versions, routes: [] });
      const removed = `version "${retire}" removed from "${svc.name}"; all traffic goes to ${keep}; the workload of ${retire} stops`;
      record(w, { type: 'version.removed', actor, service: svc.name, release: name, before: svc, after: updated, message: removed });
      w.deleteRelease(name);
      const message = `release "${name}" finished: kept ${keep}, retired ${retire}`;
      record(w, { type: 'release.finished', actor, release: name, before: current, after: null, message });
      return { release: name, service: svc.name, kept: keep, retired: retire };
    });
    await this.state.reconcile();
    return result;
  }

  private scheduleCompleteFinish(name: string, delayMs: number): void {
    this.drains.after(delayMs, () => {
      if (this.closed || !this.store.getRelease(name)) return;
      this.completeFinish(name, this.actor).catch((err) => this.state.log.error({ err }, `finishing release "${name}" failed`));
    });
  }

  /** A governor change (take over, roll back, resume) as the release's strategy defines it, with its event. */
  private transition(
    name: string,
    t: {
      type: `release.${string}`;
      verb: string;
      actor: string;
      ifMatch: string | undefined;
      change: (r: Release) => ReleaseChange;
      message: (r: Release) => string;
    },
    opts: ChangeOptions,
  ): Release {
    return this.state.change((w) => {
      const current = requireNotFinishing(this.store.requireRelease(name), t.verb);
      const updated = w.updateRelease(name, t.change(current), t.ifMatch);
      record(w, { type: t.type, actor: t.actor, release: name, before: current, after: updated, message: t.message(current) });
      return updated;
    }, opts);
  }

  /** Moves Pending releases on when their candidate's health changes. */
  private afterRuntimeChange(): void {
    if (this.closed) return;
    this.state.feed.invalidate();
    for (const r of this.store.listReleases()) {
      if (isFinishing(r) || isCandidateReady(r)) continue;
      const health = this.state.runtime.health(r.service, r.candidate.name);
      const failedAlready = r.status.conditions.some(
        (c) => c.type === 'CandidateReady' && c.reason === 'Failed' && c.message === health.reason,
      );
      if (!health.ready && (!health.failed || failedAlready)) continue;
      try {
        this.state.change((w) => {
          const current = this.store.getRelease(r.name);
          if (!current || current.resourceVersion !== r.resourceVersion) return; // changed meanwhile; next round
          const [type, status, message] = health.ready
            ? ([
                'release.candidate-ready',
                markCandidateReady(current, w.now),
                `${r.candidate.name} is ready (${health.reason}); traffic rules in force`,
              ] as const)
            : ([
                'release.candidate-failed',
                markCandidateFailed(current, health.reason, w.now),
                `${r.candidate.name} failed: ${health.reason}`,
              ] as const);
          const updated = w.updateRelease(r.name, { status });
          record(w, { type, actor: this.actor, release: r.name, before: current, after: updated, message });
        });
      } catch (err) {
        this.state.log.error({ err }, `updating release "${r.name}" after a runtime change failed`);
      }
    }
  }
}
