import type { Command } from 'commander';
import type { AnalysisCheck, AnalysisSpecInput, AnalysisStep, Release } from '../api-types.js';
import { addClientOptions, clientAction } from '../client-command.js';
import { formatFields, formatTable, printResult } from '../output.js';

/** The flags of `canary release create` that add an automated analysis. */
export interface AnalysisFlags {
  steps?: string;
  interval?: string;
  minSuccess?: string;
  maxP99?: string;
  minRequests?: string;
  loadRate?: string;
  loadPath?: string;
}

export function addAnalysisOptions(cmd: Command): Command {
  return cmd
    .option('--steps <steps>', 'automated analysis: candidate weights in turn, e.g. 10,50,100; `pause` or `pause:30s` between them')
    .option('--interval <duration>', 'automated analysis: how often the checks run, e.g. 5s (default 5s)')
    .option('--min-success <percent>', "automated analysis: the candidate's success rate must stay at least this, e.g. 99")
    .option('--max-p99 <duration>', "automated analysis: the candidate's p99 latency must stay within this, e.g. 500ms")
    .option('--min-requests <n>', 'automated analysis: requests to the candidate each step needs before it can pass (default 20)')
    .option('--load-rate <n>', 'automated analysis: synthetic requests per second while it runs (low-traffic services)')
    .option('--load-path <path>', 'automated analysis: the path the synthetic load asks for (default /)');
}

export const ANALYSIS_HELP = `
Automated analysis: with --steps (or any other analysis flag) the candidate's weight moves step by step and the
judge compares it with the baseline over the same seconds every --interval; a failing verdict rolls back at once,
the last step passing finishes the release keeping the candidate. \`canary release promote|abort NAME\` at any time.
  canary release create reviews-canary --service reviews --candidate v2 --env SERVICE_VERSION=v2 \\
      --steps 10,50,100 --interval 5s --min-success 99 --max-p99 500ms`;

function milliseconds(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(text.trim());
  if (!m) throw new Error(`${flag}: must be a duration such as 500ms or 1.5s, got "${text}"`);
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

function number(text: string, flag: string, example: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new Error(`${flag}: must be a number such as ${example}, got "${text}"`);
  return n;
}

/** `10,pause:30s,50,pause,100` -> steps. */
export function parseSteps(text: string): AnalysisStep[] {
  const steps: AnalysisStep[] = [];
  for (const part of text.split(/[,\s]+/).filter(Boolean)) {
    if (part === 'pause') steps.push({ pause: {} });
    else if (part.startsWith('pause:')) steps.push({ pause: { duration: part.slice(6) } });
    else if (/^\d+$/.test(part)) steps.push({ setWeight: Number(part) });
    else throw new Error(`--steps: "${part}" is not a weight (0-100), "pause" or "pause:DURATION"; write e.g. 10,50,pause:1m,100`);
  }
  if (steps.length === 0) throw new Error('--steps: give at least one weight, e.g. 10,50,100');
  return steps;
}

/** The `analysis` block from the flags, or undefined when none was given. The API checks the values. */
export function analysisFromFlags(flags: AnalysisFlags): AnalysisSpecInput | undefined {
  const given = [flags.steps, flags.interval, flags.minSuccess, flags.maxP99, flags.minRequests, flags.loadRate, flags.loadPath];
  if (given.every((v) => v === undefined)) return undefined;
  const a: AnalysisSpecInput = {};
  if (flags.steps !== undefined) a.steps = parseSteps(flags.steps);
  if (flags.interval !== undefined) a.interval = flags.interval;
  const checks: AnalysisCheck[] = [
    flags.minSuccess !== undefined
      ? { metric: 'successRate', min: number(flags.minSuccess, '--min-success', '99') }
      : { metric: 'successRate' },
    flags.maxP99 !== undefined ? { metric: 'latencyP99', maxMs: milliseconds(flags.maxP99, '--max-p99') } : { metric: 'latencyP99' },
  ];
  a.checks = checks;
  if (flags.minRequests !== undefined) a.minRequests = number(flags.minRequests, '--min-requests', '20');
  if (flags.loadRate !== undefined || flags.loadPath !== undefined) {
    if (flags.loadRate === undefined) throw new Error('--load-path: give --load-rate too, e.g. --load-rate 5');
    a.load = { rate: number(flags.loadRate, '--load-rate', '5'), ...(flags.loadPath ? { path: flags.loadPath } : {}) };
  }
  return a;
}

const pct = (v: number | null | undefined) => (typeof v === 'number' ? `${v.toFixed(2)} %` : '-');
const ms = (v: number | null | undefined) => (typeof v === 'number' ? `${Math.round(v * 10) / 10} ms` : '-');

/** The analysis part of `canary release get`: the step, the verdict and each test's evidence. */
export function analysisDetail(r: Release): string {
  const a = r.status.analysis;
  if (!r.analysis) return '';
  const steps = r.analysis.steps ?? [{ setWeight: 10 }, { setWeight: 50 }, { setWeight: 100 }];
  const stepText = (s: AnalysisStep) =>
    s.setWeight !== undefined ? `${s.setWeight}%` : s.pause?.duration ? `pause ${s.pause.duration}` : 'pause';
  const timeline = steps.map((s, i) => (a && i === a.step ? `[${stepText(s)}]` : stepText(s))).join(' -> ');
  if (!a)
    return `\nAnalysis:\n${formatFields([
      ['Steps', timeline],
      ['State', 'starting'],
    ])}\n`;
  const fields: [string, string][] = [
    ['Steps', timeline],
    ['State', a.state],
    ['Step', `${a.step + 1} of ${steps.length} (candidate ${a.weight} %)${a.stepStartedAt ? ` since ${a.stepStartedAt}` : ''}`],
    ['Verdict', a.verdict ?? '-'],
    ['Message', a.message],
  ];
  if (a.totals) {
    fields.push(
      [
        'Candidate',
        `${r.candidate.name}: ${pct(a.totals.candidate.successRate)} of ${a.totals.candidate.requests} requests, p99 ${ms(a.totals.candidate.p99)}`,
      ],
      [
        'Baseline',
        `${r.baseline}: ${pct(a.totals.baseline.successRate)} of ${a.totals.baseline.requests} requests, p99 ${ms(a.totals.baseline.p99)}`,
      ],
    );
  }
  let text = `\nAnalysis:\n${formatFields(fields)}`;
  if (a.checks.length > 0) {
    text += `\n\nChecks:\n${formatTable(
      ['CHECK', 'VERDICT', 'PROGRESS', 'DETAIL'],
      a.checks.map((c) => [`${c.metric}.${c.test}`, c.verdict, `${Math.round(c.progress * 100)}%`, c.message]),
    )}`;
  }
  return `${text}\n`;
}

/** `canary release promote NAME` and `canary release abort NAME`. */
export function registerAnalysisCommands(release: Command): void {
  const path = (name: string) => `/api/v1/releases/${encodeURIComponent(name)}`;
  addClientOptions(
    release
      .command('promote')
      .argument('<name>', 'release name')
      .description('skip the remaining steps: the candidate takes 100% and the release finishes keeping it'),
  )
    .addHelpText(
      'after',
      '\nWorks at any moment once the candidate is ready, also while paused.\n\nExamples:\n  canary release promote reviews-canary',
    )
    .action(
      clientAction(async ({ api, output }, name: string) => {
        const res = await api.post<{ kept: string; retired: string }>(`${path(name)}/promote`);
        printResult(output, res, () => `release/${name} promoted: ${res.kept} kept, ${res.retired} retired`);
      }),
    );
  addClientOptions(
    release
      .command('abort')
      .argument('<name>', 'release name')
      .description('stop the automated analysis and roll back: the baseline takes 100%'),
  )
    .addHelpText(
      'after',
      '\nWorks at any moment, also while paused or waiting on a webhook.\n\nExamples:\n  canary release abort reviews-canary',
    )
    .action(
      clientAction(async ({ api, output }, name: string) => {
        const r = await api.post<Release>(`${path(name)}/abort`);
        printResult(output, r, () => `release/${name} aborted: ${r.baseline} takes 100% (phase ${r.status.phase})`);
      }),
    );
}
