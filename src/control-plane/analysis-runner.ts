import {
  type AnalysisPlan,
  type AnalysisState,
  type AnalysisStatus,
  analysisPlan,
  durationText,
  HISTORY_LIMIT,
  judgeInterval,
  startStep,
  TERMINAL_ANALYSIS_STATES,
  weightAt,
} from '../core/analysis/index.js';
import { isCandidateReady, type Release } from '../core/index.js';
import type { SqliteStore } from '../store/index.js';
import type { AnalysisMetrics } from './analysis-metrics.js';
import { AnalysisNotifier } from './analysis-notifier.js';
import { AnalysisRecord, historyEntry, initialStatus } from './analysis-record.js';
import type { FinishResult, ReleaseController } from './release-controller.js';
import { SyntheticLoad } from './synthetic-load.js';

export interface AnalysisRunnerOptions {
  store: SqliteStore;
  controller: ReleaseController;
  metrics: AnalysisMetrics;
  /** Who the analysis's own changes are recorded as; default `analysis`. */
  actor?: string;
  /** How often it looks whether a release's check or step is due; default 200 ms. */
  tickMs?: number;
  /** The mesh ingress (`http://127.0.0.1:8000`), where `analysis.load` sends its requests; unset: load is refused. */
  ingressUrl?: string;
  /** First retry delay of webhooks; default 250 ms. */
  webhookBackoffMs?: number;
  log?: { info(msg: string): void; warn(msg: string): void; error(obj: unknown, msg: string): void };
}

function isFinishing(r: Release): boolean {
  return r.status.conditions.some((c) => c.type === 'Finishing' && c.status === 'True');
}

const nowSecond = () => Math.floor(Date.now() / 1000);

/**
 * Drives releases that carry an `analysis` block (DESIGN.md "Automated analysis"): calls the preRollout webhooks,
 * walks the steps through the release controller's public operations (patch the weights, roll back, finish), judges
 * both versions over the same seconds every interval, and rolls back at once on a failing verdict. Its whole state
 * is `status.analysis` in the store, so a restarted control plane carries on where it stopped. A person may act at
 * any moment: promote and abort (here), take over, roll back and resume (the controller) — the runner re-reads the
 * release before each change and leaves it alone when someone else moved it.
 */
export class AnalysisRunner {
  private readonly store: SqliteStore;
  private readonly controller: ReleaseController;
  private readonly actor: string;
  private readonly log: NonNullable<AnalysisRunnerOptions['log']>;
  private readonly busy = new Set<string>();
  private readonly record: AnalysisRecord;
  private readonly notifier: AnalysisNotifier;
  private readonly load: SyntheticLoad;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private running: Promise<unknown>[] = [];

  constructor(private readonly options: AnalysisRunnerOptions) {
    this.store = options.store;
    this.controller = options.controller;
    this.actor = options.actor ?? 'analysis';
    this.log = options.log ?? { info() {}, warn() {}, error() {} };
    this.record = new AnalysisRecord(options.store, this.actor);
    this.notifier = new AnalysisNotifier({
      backoffMs: options.webhookBackoffMs,
      track: (p) => this.track(p),
      warn: (m) => this.log.warn(m),
    });
    this.load = new SyntheticLoad(options.ingressUrl);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 200);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled(this.running);
    await this.load.stopAll();
  }

  /** Whether `analysis.load` can be served (an ingress to send to). */
  get canLoad(): boolean {
    return this.options.ingressUrl !== undefined;
  }

  /** Whether `prometheus` checks can be answered. */
  get answersPromQL(): boolean {
    return this.options.metrics.answersPromQL;
  }

  /**
   * Skips the remaining steps: the candidate takes 100 % and the release finishes keeping it (`release.promoted`).
   * Works at any moment once the candidate is ready, with or without an analysis, also while paused or while a
   * webhook is being waited for (the runner sees the change and stops).
   */
  async promote(name: string, actor: string): Promise<FinishResult> {
    const r = this.store.requireRelease(name);
    // Every check the finish makes, without changing anything, so a refused promote changes nothing.
    await this.controller.finishRelease(name, r.candidate.name, actor, { dryRun: true });
    this.record.promoted(r, actor);
    this.load.stop(name);
    this.notifier.notify(r, 'event', 'release.promoted', `promoted by ${actor}`);
    return this.controller.finishRelease(name, r.candidate.name, actor);
  }

  /** Stops the analysis and rolls back: the baseline takes 100 %. Works at any moment, also while paused. */
  abort(name: string, actor: string): Release {
    const rolled = this.controller.rollback(name, actor);
    const after = this.record.aborted(name, actor);
    this.load.stop(name);
    this.notifier.notify(rolled, 'rollback', 'release.aborted', `aborted by ${actor}`);
    return after;
  }

  // ---- the loop -------------------------------------------------------------------------------------------

  private tick(): void {
    if (this.closed) return;
    let releases: Release[];
    try {
      releases = this.store.listReleases();
    } catch (err) {
      this.log.error({ err }, 'analysis: reading releases failed');
      return;
    }
    const active = new Set<string>();
    for (const r of releases) {
      if (!r.analysis) continue;
      active.add(r.name);
      if (this.busy.has(r.name)) continue;
      this.busy.add(r.name);
      const p = this.advance(r)
        .catch((err) => this.log.error({ err }, `analysis of release "${r.name}" failed`))
        .finally(() => {
          this.busy.delete(r.name);
          this.running = this.running.filter((x) => x !== p);
        });
      this.running.push(p);
    }
    for (const name of this.load.names()) if (!active.has(name)) this.load.stop(name);
  }

  private async advance(r: Release): Promise<void> {
    const plan = analysisPlan(r.analysis!);
    const a = r.status.analysis ?? initialStatus();
    if (a.state === 'promoting') {
      // A promote cut short by a restart: finish it.
      if (!isFinishing(r)) await this.controller.finishRelease(r.name, r.candidate.name, this.actor);
      return;
    }
    if (TERMINAL_ANALYSIS_STATES.includes(a.state) || isFinishing(r)) {
      this.load.stop(r.name);
      return;
    }
    if (!r.status.analysis) this.record.save(r.name, null, () => a);
    if (!isCandidateReady(r)) return;
    if (r.status.governor) {
      if (a.state !== 'held' && a.state !== 'waiting' && a.state !== 'preRollout') {
        this.load.stop(r.name);
        this.record.save(r.name, a.state, (x) => ({
          ...x,
          state: 'held',
          message: `checks stopped: ${r.status.governor} takes 100 % (${r.status.phase}); resume to continue at step ${x.step + 1}`,
        }));
      }
      return;
    }
    if (a.state === 'held') {
      // Resumed: judge only what comes from now on (the held seconds were not a split).
      this.record.save(
        r.name,
        'held',
        (x) => ({
          ...x,
          state: 'running',
          sampledUntil: nowSecond() + 1,
          checkedAt: new Date().toISOString(),
          message: `resumed at step ${x.step + 1}`,
        }),
        { action: 'release.analysis', message: `analysis of "${r.name}" resumes at step ${a.step + 1}` },
      );
      return;
    }
    if (a.state === 'waiting' || a.state === 'preRollout') {
      await this.preRollout(r, plan, a.state);
      return;
    }
    this.load.ensure(r, plan);
    const due = a.checkedAt === null || Date.now() - Date.parse(a.checkedAt) >= plan.intervalMs;
    if (!due) return;
    if (a.state === 'confirming') {
      await this.confirmAndPromote(r, plan);
      return;
    }
    await this.check(r, plan, a);
  }

  private async preRollout(r: Release, plan: AnalysisPlan, from: AnalysisState): Promise<void> {
    const hooks = plan.webhooks.filter((h) => h.on === 'preRollout');
    if (from === 'waiting' && hooks.length > 0) {
      this.record.save(r.name, 'waiting', (x) => ({
        ...x,
        state: 'preRollout',
        message: `calling ${hooks.length} preRollout webhook(s); no traffic has moved`,
      }));
    }
    for (const hook of hooks) {
      const out = await this.notifier.call(hook, r, 'preRollout', 'release.pre-rollout', 'about to move traffic to the candidate');
      if (this.closed) return;
      if (!out.ok) {
        const message = `preRollout webhook "${hook.name}" (${hook.url}) failed after ${out.attempts} attempt(s): ${out.error}; no traffic moved to ${r.candidate.name}`;
        await this.fail(r.name, from === 'waiting' && hooks.length > 0 ? 'preRollout' : from, message, 'PreRolloutFailed');
        return;
      }
    }
    const current = this.store.getRelease(r.name);
    const expected = hooks.length > 0 ? 'preRollout' : 'waiting';
    if (!current || current.status.analysis?.state !== expected) return; // promoted or aborted meanwhile
    this.enterStep(current, plan, 0, expected);
  }

  /** Moves to step `index`: a setWeight patches the release's weights; a pause only starts its clock. */
  private enterStep(r: Release, plan: AnalysisPlan, index: number, from: AnalysisState): void {
    const step = plan.steps[index]!;
    const weight = weightAt(plan.steps, index);
    if (step.setWeight !== undefined) {
      this.controller.patchRelease(
        r.name,
        { traffic: { weights: { [r.baseline]: 100 - weight, [r.candidate.name]: weight } } },
        this.actor,
      );
    }
    const what =
      step.setWeight !== undefined
        ? `setWeight ${weight}: ${r.candidate.name} gets ${weight} %`
        : step.pause?.duration
          ? `pause ${step.pause.duration} at ${weight} %`
          : `pause at ${weight} % until promote (or abort)`;
    const message = `step ${index + 1} of ${plan.steps.length}: ${what}`;
    this.record.save(
      r.name,
      from,
      (x) => ({
        ...x,
        state: 'running',
        step: index,
        weight,
        stepStartedAt: new Date().toISOString(),
        checkedAt: new Date().toISOString(),
        // The second the weights changed holds both splits: judge from the next one.
        sampledUntil: nowSecond() + 1,
        judge: startStep(x.judge),
        message,
      }),
      { action: 'release.analysis-step', message: `release "${r.name}" ${message}` },
    );
    this.notifier.notify(r, 'event', 'release.analysis-step', message);
  }

  private async check(r: Release, plan: AnalysisPlan, a: AnalysisStatus): Promise<void> {
    const to = nowSecond();
    const from = Math.min(a.sampledUntil, to);
    const sample = await this.options.metrics.sample(r, plan.checks, from, to);
    const result = judgeInterval(a.judge, sample, {
      checks: plan.checks,
      alpha: plan.alpha,
      minRequests: plan.minRequests,
      baselineName: r.baseline,
      candidateName: r.candidate.name,
      candidateWeight: a.weight,
    });
    const current = this.store.getRelease(r.name);
    if (current?.status.analysis?.state !== 'running' || current.status.governor) return;
    const at = new Date().toISOString();
    const step = plan.steps[a.step]!;
    let message = result.message;
    let complete = false;
    if (result.verdict === 'passing') {
      if (step.setWeight !== undefined) complete = true;
      else if (step.pause?.duration) {
        const left = Date.parse(a.stepStartedAt ?? at) + durationMsOf(step.pause.duration) - Date.now();
        complete = left <= 0;
        if (!complete) message = `${result.message}; paused ${durationText(Math.ceil(left / 1000) * 1000)} more`;
      } else message = `${result.message}; paused until promote (or abort)`;
    }
    const verdictChanged = a.verdict !== result.verdict;
    this.record.save(
      r.name,
      'running',
      (x) => ({
        ...x,
        verdict: result.verdict,
        message,
        checkedAt: at,
        sampledUntil: to,
        checks: result.checks,
        totals: result.totals,
        judge: result.state,
        history: [...x.history, historyEntry(at, a, result)].slice(-HISTORY_LIMIT),
      }),
      verdictChanged && result.verdict !== 'failing'
        ? { action: 'release.analysis', message: `release "${r.name}" step ${a.step + 1}: ${message}`, condition: result.verdict }
        : undefined,
    );
    if (verdictChanged && result.verdict !== 'failing') this.notifier.notify(r, 'event', 'release.analysis', message);
    if (result.verdict === 'failing') {
      await this.fail(r.name, 'running', result.message, 'Failing');
      return;
    }
    if (!complete) return;
    const latest = this.store.getRelease(r.name);
    if (latest?.status.analysis?.state !== 'running') return;
    if (a.step + 1 < plan.steps.length) {
      this.enterStep(latest, plan, a.step + 1, 'running');
      return;
    }
    this.record.save(r.name, 'running', (x) => ({
      ...x,
      state: 'confirming',
      checkedAt: null,
      message: `every step passed: ${result.message}`,
    }));
    await this.confirmAndPromote(latest, plan);
  }

  /** After the last step: the confirmPromotion gate (asked again every interval while it says no), then promote. */
  private async confirmAndPromote(r: Release, plan: AnalysisPlan): Promise<void> {
    for (const hook of plan.webhooks.filter((h) => h.on === 'confirmPromotion')) {
      const out = await this.notifier.call(
        hook,
        r,
        'confirmPromotion',
        'release.confirm-promotion',
        'every step passed; may it be promoted?',
      );
      if (this.closed) return;
      if (!out.ok) {
        this.record.save(r.name, 'confirming', (x) => ({
          ...x,
          checkedAt: new Date().toISOString(),
          message: `every step passed; waiting for confirmPromotion webhook "${hook.name}" (${out.error}); asking again in ${durationText(plan.intervalMs)}`,
        }));
        return;
      }
    }
    const current = this.store.getRelease(r.name);
    if (current?.status.analysis?.state !== 'confirming' || current.status.governor) return;
    await this.promote(r.name, this.actor);
  }

  /** Rolls back (the baseline takes 100 % at once) and records why, naming the metric, values, counts and bound. */
  private async fail(name: string, from: AnalysisState, message: string, reason: string): Promise<void> {
    const current = this.store.getRelease(name);
    if (!current || current.status.analysis?.state !== from) return;
    this.load.stop(name);
    this.controller.rollback(name, this.actor);
    this.record.save(name, from, (x) => ({ ...x, state: 'failed', verdict: 'failing', weight: 0, message }), {
      action: 'release.analysis-failed',
      message: `release "${name}" rolled back by the analysis: ${message}`,
      condition: 'failing',
      reason,
    });
    const after = this.store.getRelease(name) ?? current;
    this.notifier.notify(after, 'rollback', 'release.rolled-back', message);
    this.notifier.notify(after, 'event', 'release.rolled-back', message);
  }

  // ---- helpers --------------------------------------------------------------------------------------------

  /** Keeps a fire-and-forget webhook call among the work `close` waits for. */
  private track(p: Promise<unknown>): void {
    this.running.push(p);
    void p.finally(() => {
      this.running = this.running.filter((x) => x !== p);
    });
  }
}

function durationMsOf(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) return 0;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms'];
  return Number(m[1]) * unit;
}
