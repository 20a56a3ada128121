import { type AnalysisState, type AnalysisStatus, type JudgeResult, newJudgeState } from '../core/analysis/index.js';
import type { Condition, Release } from '../core/index.js';
import type { SqliteStore } from '../store/index.js';

const ANALYSIS_CONDITION = 'Analysis';

/** What an analysis change records besides `status.analysis`: an event, and the `Analysis` condition when given. */
export interface AnalysisEvent {
  action: string;
  message: string;
  condition?: string;
  reason?: string;
}

/** A release's `status.analysis` before the runner first looked at it. */
export function initialStatus(): AnalysisStatus {
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

/**
 * Where the analysis runner writes what it did: `status.analysis` (its whole state, so a restarted control plane
 * carries on), the release's `Analysis` condition and the event log, in one transaction each.
 */
export class AnalysisRecord {
  constructor(
    private readonly store: SqliteStore,
    private readonly actor: string,
  ) {}

  /**
   * Changes `status.analysis` in one transaction when it is still in state `expect` (null: not there yet), with an
   * event and the release's `Analysis` condition when asked. Returns whether it wrote.
   */
  save(name: string, expect: AnalysisState | null, change: (a: AnalysisStatus) => AnalysisStatus, event?: AnalysisEvent): boolean {
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

  /** Records a person's (or the gate's) promote: state `promoting` and the `release.promoted` event. */
  promoted(r: Release, actor: string): void {
    const name = r.name;
    const skipped = r.analysis ? skippedText(r) : '';
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
  }

  /** Records an abort after the rollback: state `aborted` and the `release.aborted` event. Returns the release. */
  aborted(name: string, actor: string): Release {
    return this.store.write((w) => {
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
  }
}

/** What a promote skipped, for its message. */
function skippedText(r: Release): string {
  const a = r.status.analysis;
  const steps = r.analysis?.steps?.length ?? 3;
  if (!a || a.step + 1 >= steps) return '';
  return ` at step ${a.step + 1} of ${steps}, skipping the rest`;
}

/** One interval's line of `status.analysis.history`. */
export function historyEntry(at: string, a: AnalysisStatus, r: JudgeResult) {
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
