import type { ReleaseInput } from '../api/types.js';

type AnalysisInput = NonNullable<ReleaseInput['analysis']>;

/** One row of the steps editor. */
export interface StepDraft {
  kind: 'setWeight' | 'pause';
  weight: number;
  /** Pause: `30s`, `1m`; empty waits until promote. */
  duration: string;
}

/** What the wizard collects for an automated analysis (docs/analysis.md); `enabled` false leaves it out. */
export interface AnalysisDraft {
  enabled: boolean;
  steps: StepDraft[];
  interval: string;
  minSuccess: number;
  maxP99Ms: number;
  minRequests: number;
}

/** The defaults the API would choose, spelled out so the person sees them: 10, 50, 100 % every 5 s. */
export function emptyAnalysisDraft(): AnalysisDraft {
  return {
    enabled: false,
    steps: [
      { kind: 'setWeight', weight: 10, duration: '' },
      { kind: 'pause', weight: 0, duration: '1m' },
      { kind: 'setWeight', weight: 50, duration: '' },
      { kind: 'setWeight', weight: 100, duration: '' },
    ],
    interval: '5s',
    minSuccess: 99,
    maxP99Ms: 500,
    minRequests: 20,
  };
}

const duration = /^\d+(\.\d+)?(ms|s|m|h)$/;

/** i18n key of what is wrong with the analysis, or null. The API checks again, with the same rules. */
export function analysisProblem(a: AnalysisDraft): string | null {
  if (!a.enabled) return null;
  if (a.steps.length === 0) return 'analysis.needStep';
  if (a.steps.some((s) => s.kind === 'setWeight' && (!Number.isInteger(s.weight) || s.weight < 0 || s.weight > 100)))
    return 'analysis.weightRange';
  if (a.steps.some((s) => s.kind === 'pause' && s.duration.trim() !== '' && !duration.test(s.duration.trim())))
    return 'analysis.badDuration';
  if (!duration.test(a.interval.trim())) return 'analysis.badInterval';
  if (!(a.minSuccess >= 0 && a.minSuccess <= 100)) return 'analysis.minSuccessRange';
  if (!(a.maxP99Ms > 0)) return 'analysis.maxP99Range';
  if (!Number.isInteger(a.minRequests) || a.minRequests < 1) return 'analysis.minRequestsRange';
  return null;
}

export function buildAnalysis(a: AnalysisDraft): AnalysisInput {
  return {
    interval: a.interval.trim(),
    steps: a.steps.map((s) =>
      s.kind === 'setWeight' ? { setWeight: s.weight } : { pause: s.duration.trim() ? { duration: s.duration.trim() } : {} },
    ),
    checks: [
      { metric: 'successRate', min: a.minSuccess },
      { metric: 'latencyP99', maxMs: a.maxP99Ms },
    ],
    minRequests: a.minRequests,
  };
}
