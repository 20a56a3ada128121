import type { CheckResult, JudgeState, Verdict, VersionFigures } from './judge.js';

/**
 * Where an automated analysis stands, stored in `status.analysis` of its release (so a control-plane restart
 * continues it): the step, the verdict with its evidence, and the judge's running state.
 */
export type AnalysisState =
  /** The candidate is not ready yet; no traffic has moved. */
  | 'waiting'
  /** The preRollout webhooks are being called; no traffic has moved. */
  | 'preRollout'
  /** Steps and checks in progress. */
  | 'running'
  /** A person took over or rolled back: checks stop until resume. */
  | 'held'
  /** The last step passed; the confirmPromotion webhooks have not said yes yet. */
  | 'confirming'
  /** Finishing, keeping the candidate. */
  | 'promoting'
  /** The judge failed the candidate (or a preRollout webhook refused): rolled back. */
  | 'failed'
  /** A person aborted: rolled back. */
  | 'aborted';

export interface AnalysisHistoryEntry {
  at: string;
  step: number;
  weight: number;
  verdict: Verdict;
  /** This interval's figures per version (charts). */
  candidate: VersionFigures;
  baseline: VersionFigures;
  /** Each test's progress toward its bound, 0..1, by `metric.test`. */
  progress: Record<string, number>;
}

export interface AnalysisStatus {
  state: AnalysisState;
  /** Index of the current step in `analysis.steps`. */
  step: number;
  stepStartedAt: string | null;
  /** The candidate's weight now. */
  weight: number;
  verdict: Verdict | null;
  message: string;
  checkedAt: string | null;
  /** Epoch second up to which telemetry has been judged (exclusive). */
  sampledUntil: number;
  /** The latest check's tests. */
  checks: CheckResult[];
  /** Figures since the analysis began. */
  totals: { candidate: VersionFigures; baseline: VersionFigures } | null;
  /** The latest checks, oldest first (at most HISTORY_LIMIT). */
  history: AnalysisHistoryEntry[];
  judge: JudgeState;
}

export const HISTORY_LIMIT = 120;

export const TERMINAL_ANALYSIS_STATES: readonly AnalysisState[] = ['promoting', 'failed', 'aborted'];
