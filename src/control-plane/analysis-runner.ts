import {
  type AnalysisPlan,
  type AnalysisState,
  type AnalysisStatus,
  analysisPlan,
  durationText,
  HISTORY_LIMIT,
  judgeInterval,
  type JudgeResult,
  newJudgeState,
  startStep,
  TERMINAL_ANALYSIS_STATES,
  type WebhookKind,
  weightAt,
} from '../core/analysis/index.js';
import { type Condition, isCandidateReady, type Release } from '../core/index.js';
import type { SqliteStore } from '../store/index.js';
import { TrafficGenerator } from '../telemetry/traffic-generator.js';
import type { AnalysisMetrics } from './analysis-metrics.js';
import { callWebhook, type WebhookPayload } from './analysis-webhooks.js';
import type { FinishResult, ReleaseController } from './release-controller.js';

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

const ANALYSIS_CONDITION = 'Analysis';

function isFinishing(r: Release): boolean {
  return r.status.conditions.some((c) => c.type === 'Finishing' && c.status === 'True');
}

function initialStatus(): AnalysisStatus {
  return {
    state: 'waiting',
    step: 0,
    stepStartedAt: null,
    weight: 0,
    verdict: null,
    message: 'waiting for the candidate to become ready; no traffic has moved',
    checkedAt: null,
    sampledUntil: 0,
    checks: [],
    totals: null,
    history: [],
    judge: newJudgeState(),
  };
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
  private readonly loads = new Map<string, TrafficGenerator>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private running: Promise<unknown>[] = [];

  constructor(private readonly options: AnalysisRunnerOptions) {
    this.store = options.store;
    this.controller = options.controller;
    this.actor = options.actor ?? 'analysis';
    this.log = options.log ?? { info() {}, warn() {}, error() {} };
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 200);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled(this.running);
    await Promise.all([...this.loads.values()].map((g) => g.stop()));
    this.loads.clear();
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
    const skipped = r.analysis ? this.skippedText(r) : '';
    this.store.write((w) => {
      const current = this.store.requireRelease(name);
      const status = current.status.analysis
        ? {
            ...current.status,
            analysis: { ...current.status.analysis, state: 'promoting' as const, message: `promoted by ${actor}${skipped}` },
          }
        : current.status;
      const updated = w.updateRelease(name, { status });
      w.appendEvent({
        actor,
        action: 'release.promoted',
        resourceKind: 'release',
        resourceName: name,
        release: name,
        before: current,
        after: updated,
        message: `release "${name}" promoted by ${actor}${skipped}: ${current.candidate.name} takes 100 % and the release finishes keeping it`,
      });
    });
    this.stopLoad(name);
    this.notify(r, 'event', 'release.promoted', `promoted by ${actor}`);
    return this.controller.finishRelease(name, r.candidate.name, actor);
  }

  /** Stops the analysis and rolls back: the baseline takes 100 %. Works at any moment, also while paused. */
  abort(name: string, actor: string): Release {
    const rolled = this.controller.rollback(name, actor);
    const after = this.store.write((w) => {
      const current = this.store.requireRelease(name);
      const status = current.status.analysis
        ? {
            ...current.status,
            analysis: {
              ...current.status.analysis,
              state: 'aborted' as const,
              weight: 0,
              message: `aborted by ${actor} at step ${current.status.analysis.step + 1}; ${current.baseline} takes 100 %`,
            },
          }
        : current.status;
      const updated = w.updateRelease(name, { status });
      w.appendEvent({
        actor,
        action: 'release.aborted',
        resourceKind: 'release',
        resourceName: name,
        release: name,
        before: current,
        after: updated,
        message: `release "${name}" aborted by ${actor}: ${current.baseline} takes 100 %`,
      });
      return updated;
    });
    this.stopLoad(name);
    this.notify(rolled, 'rollback', 'release.aborted', `aborted by ${actor}`);
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
    for (const name of this.loads.keys()) if (!active.has(name)) this.stopLoad(name);
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
      this.stopLoad(r.name);
      return;
    }
    if (!r.status.analysis) this.save(r.name, null, () => a);
    if (!isCandidateReady(r)) return;
    if (r.status.governor) {
      if (a.state !== 'held' && a.state !== 'waiting' && a.state !== 'preRollout') {
        this.stopLoad(r.name);
        this.save(r.name, a.state, (x) => ({
          ...x,
          state: 'held',
          message: `checks stopped: ${r.status.governor} takes 100 % (${r.status.phase}); resume to continue at step ${x.step + 1}`,
        }));
      }
      return;
    }
    if (a.state === 'held') {
      // Resumed: judge only what comes from now on (the held seconds were not a split).
      this.save(
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
    this.ensureLoad(r, plan);
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
      this.save(r.name, 'waiting', (x) => ({
        ...x,
        state: 'preRollout',
        message: `calling ${hooks.length} preRollout webhook(s); no traffic has moved`,
      }));
    }
    for (const hook of hooks) {
      const out = await callWebhook(
        hook,
        this.payload(r, 'preRollout', 'release.pre-rollout', 'about to move traffic to the candidate'),
        this.backoff(),
      );
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
    this.save(
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
    this.notify(r, 'event', 'release.analysis-step', message);
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
    if (!current || current.status.analysis?.state !== 'running' || current.status.governor) return;
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
    this.save(
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
    if (verdictChanged && result.verdict !== 'failing') this.notify(r, 'event', 'release.analysis', message);
    if (result.verdict === 'failing') {
      await this.fail(r.name, 'running', result.message, 'Failing');
      return;
    }
    if (!complete) return;
    const latest = this.store.getRelease(r.name);
    if (!latest || latest.status.analysis?.state !== 'running') return;
    if (a.step + 1 < plan.steps.length) {
      this.enterStep(latest, plan, a.step + 1, 'running');
      return;
    }
    this.save(r.name, 'running', (x) => ({ ...x, state: 'confirming', checkedAt: null, message: `every step passed: ${result.message}` }));
    await this.confirmAndPromote(latest, plan);
  }

  /** After the last step: the confirmPromotion gate (asked again every interval while it says no), then promote. */
  private async confirmAndPromote(r: Release, plan: AnalysisPlan): Promise<void> {
    for (const hook of plan.webhooks.filter((h) => h.on === 'confirmPromotion')) {
      const out = await callWebhook(
        hook,
        this.payload(r, 'confirmPromotion', 'release.confirm-promotion', 'every step passed; may it be promoted?'),
        this.backoff(),
      );
      if (this.closed) return;
      if (!out.ok) {
        this.save(r.name, 'confirming', (x) => ({
          ...x,
          checkedAt: new Date().toISOString(),
          message: `every step passed; waiting for confirmPromotion webhook "${hook.name}" (${out.error}); asking again in ${durationText(plan.intervalMs)}`,
        }));
        return;
      }
    }
    const current = this.store.getRelease(r.name);
    if (!current || current.status.analysis?.state !== 'confirming' || current.status.governor) return;
    await this.promote(r.name, this.actor);
  }

  /** Rolls back (the baseline takes 100 % at once) and records why, naming the metric, values, counts and bound. */
  private async fail(name: string, from: AnalysisState, message: string, reason: string): Promise<void> {
    const current = this.store.getRelease(name);
    if (!current || current.status.analysis?.state !== from) return;
    this.stopLoad(name);
    this.controller.rollback(name, this.actor);
    this.save(name, from, (x) => ({ ...x, state: 'failed', verdict: 'failing', weight: 0, message }), {
      action: 'release.analysis-failed',
      message: `release "${name}" rolled back by the analysis: ${message}`,
      condition: 'failing',
      reason,
    });
    const after = this.store.getRelease(name) ?? current;
    this.notify(after, 'rollback', 'release.rolled-back', message);
    this.notify(after, 'event', 'release.rolled-back', message);
  }

  // ---- helpers --------------------------------------------------------------------------------------------

  /**
   * Changes `status.analysis` in one transaction when it is still in state `expect` (null: not there yet), with an
   * event and the release's `Analysis` condition when asked. Returns whether it wrote.
   */
  private save(
    name: string,
    expect: AnalysisState | null,
    change: (a: AnalysisStatus) => AnalysisStatus,
    event?: { action: string; message: string; condition?: string; reason?: string },
  ): boolean {
    return this.store.write((w) => {
      const current = this.store.getRelease(name);
      if (!current) return false;
      const a = current.status.analysis;
      if ((a?.state ?? null) !== expect) return false;
      const next = change(a ?? initialStatus());
      let conditions = current.status.conditions;
      if (event?.condition) {
        const c: Condition = {
          type: ANALYSIS_CONDITION,
          status: event.condition === 'failing' ? 'False' : 'True',
          reason: event.reason ?? event.condition[0]!.toUpperCase() + event.condition.slice(1),
          message: next.message,
          at: w.now,
        };
        conditions = [...conditions.filter((x) => x.type !== ANALYSIS_CONDITION), c];
      }
      w.updateRelease(name, { status: { ...current.status, conditions, analysis: next } });
      if (event) {
        w.appendEvent({
          actor: this.actor,
          action: event.action,
          resourceKind: 'release',
          resourceName: name,
          release: name,
          before: { step: a?.step ?? 0, state: a?.state ?? null, verdict: a?.verdict ?? null },
          after: {
            step: next.step,
            state: next.state,
            verdict: next.verdict,
            weight: next.weight,
            checks: next.checks,
            totals: next.totals,
          },
          message: event.message,
        });
      }
      return true;
    });
  }

  private skippedText(r: Release): string {
    const a = r.status.analysis;
    const steps = r.analysis?.steps?.length ?? 3;
    if (!a || a.step + 1 >= steps) return '';
    return ` at step ${a.step + 1} of ${steps}, skipping the rest`;
  }

  private payload(r: Release, type: WebhookKind, event: string, message: string): WebhookPayload {
    const a = r.status.analysis;
    return {
      type,
      event,
      release: r.name,
      service: r.service,
      baseline: r.baseline,
      candidate: r.candidate.name,
      phase: r.status.phase,
      step: a?.step ?? 0,
      weight: a?.weight ?? 0,
      verdict: a?.verdict ?? null,
      message,
      at: new Date().toISOString(),
    };
  }

  private backoff() {
    return this.options.webhookBackoffMs === undefined ? {} : { backoffMs: this.options.webhookBackoffMs };
  }

  /** Fire-and-forget webhooks of one kind (rollback, event); a failure is logged, never blocks the release. */
  private notify(r: Release, kind: 'rollback' | 'event', event: string, message: string): void {
    if (!r.analysis) return;
    for (const hook of analysisPlan(r.analysis).webhooks.filter((h) => h.on === kind)) {
      const p = callWebhook(hook, this.payload(r, kind, event, message), this.backoff()).then((out) => {
        if (!out.ok) this.log.warn(`${kind} webhook "${hook.name}" of release "${r.name}" failed: ${out.error}`);
      });
      this.running.push(p);
      void p.finally(() => {
        this.running = this.running.filter((x) => x !== p);
      });
    }
  }

  private ensureLoad(r: Release, plan: AnalysisPlan): void {
    if (!plan.load || this.loads.has(r.name) || !this.options.ingressUrl) return;
    const g = new TrafficGenerator({
      url: `${this.options.ingressUrl.replace(/\/+$/, '')}${plan.load.path}`,
      rate: plan.load.rate,
      headers: { host: r.service, 'x-canary-load': r.name },
    });
    g.start();
    this.loads.set(r.name, g);
  }

  private stopLoad(name: string): void {
    const g = this.loads.get(name);
    if (!g) return;
    this.loads.delete(name);
    void g.stop();
  }
}

function durationMsOf(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) return 0;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms'];
  return Number(m[1]) * unit;
}

function historyEntry(at: string, a: AnalysisStatus, r: JudgeResult) {
  return {
    at,
    step: a.step,
    weight: a.weight,
    verdict: r.verdict,
    candidate: r.interval.candidate,
    baseline: r.interval.baseline,
    progress: Object.fromEntries(r.checks.map((c) => [`${c.metric}.${c.test}`, Math.round(c.progress * 1000) / 1000])),
  };
}

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
