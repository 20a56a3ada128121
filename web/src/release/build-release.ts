import { dns1123LabelFault, type NameFault } from '@canary/core/names.js';
import { type AnalysisDraft, buildAnalysis, emptyAnalysisDraft } from './build-analysis.js';
import type {
  CompareOptions,
  MatchBlock,
  MatchKind,
  PartialWorkload,
  ReleaseInput,
  ReleaseStrategy,
  Service,
  Traffic,
  Workload,
} from '../api/types.js';

export type ConditionKind = 'header' | 'cookie' | 'uri' | 'os';
export type ClientOs = 'android' | 'ios' | 'windows' | 'macos' | 'linux';

export interface MatchCondition {
  kind: ConditionKind;
  /** Header or cookie name; unused for uri and os. */
  name: string;
  match: MatchKind;
  value: string;
  os: ClientOs;
}

export interface EnvPair {
  key: string;
  value: string;
}

/** Everything the create wizard collects. */
export interface ReleaseDraft {
  /** Which mode card started the wizard: decides the last step and the release's `strategy`. */
  mode: ReleaseStrategy;
  name: string;
  service: string;
  baseline: string;
  candidate: string;
  env: EnvPair[];
  command: string;
  args: string;
  image: string;
  addresses: string;
  strategy: 'weights' | 'match';
  /** Candidate's share 0..100 in the "traffic distribution" strategy. */
  candidateWeight: number;
  conditions: MatchCondition[];
  /** Mirror: the share of requests copied to the candidate, 1..100. */
  mirrorPercent: number;
  /** Mirror: compare bodies (JSON-aware) besides status and headers. */
  compareBody: boolean;
  /** Mirror: header names compared (`*`: all but the volatile ones), comma or newline separated. */
  compareHeaders: string;
  /** Mirror: header names left out of the comparison, comma or newline separated. */
  ignoreHeaders: string;
  /** Mirror: JSON paths left out of the body comparison (`$.timestamp`), comma or newline separated. */
  ignoreJsonPaths: string;
  /** Mirror: requests with larger bodies are not mirrored (counted as skipped), in KiB. */
  maxBodyKiB: number;
  /** Canary by weight: an automated analysis (steps and checks) instead of a fixed split. */
  analysis: AnalysisDraft;
}

// User-Agent fragments per client OS; RE2 whole-string matching, hence the surrounding `.*`.
const osRegex: Record<ClientOs, string> = {
  android: '.*Android.*',
  ios: '.*(iPhone|iPad|iPod).*',
  windows: '.*Windows.*',
  macos: '.*Mac OS X.*',
  linux: '.*Linux.*',
};

export function emptyDraft(): ReleaseDraft {
  return {
    mode: 'canary',
    name: '',
    service: '',
    baseline: '',
    candidate: '',
    env: [],
    command: '',
    args: '',
    image: '',
    addresses: '',
    strategy: 'weights',
    candidateWeight: 50,
    conditions: [{ kind: 'header', name: 'end-user', match: 'exact', value: '', os: 'android' }],
    mirrorPercent: 100,
    compareBody: true,
    compareHeaders: 'content-type',
    ignoreHeaders: '',
    ignoreJsonPaths: '',
    maxBodyKiB: 64,
    analysis: emptyAnalysisDraft(),
  };
}

/** `a, b\nc` -> `['a', 'b', 'c']`; JSON paths split at commas and line ends only (`$['a key']`). */
export function listOfNames(text: string, separators = /[\s,]+/): string[] {
  return text
    .split(separators)
    .map((x) => x.trim())
    .filter(Boolean);
}

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// `$`, then `.name`, `.*`, `[3]`, `[*]` or `['any key']` segments (the subset the control plane takes).
const jsonPath = /^\$(\.[A-Za-z_$][\w$-]*|\.\*|\[\d+\]|\[\*\]|\['[^']*'\])*$/;
/** The largest `maxBodyBytes` the control plane takes: 1 MiB. */
const maxBodyKiB = 1024;

/** i18n key of what is wrong with the mirror step, or null. */
export function mirrorProblem(d: ReleaseDraft): string | null {
  if (!Number.isInteger(d.mirrorPercent) || d.mirrorPercent < 1 || d.mirrorPercent > 100) return 'wizard.mirror.percentRange';
  if (listOfNames(d.compareHeaders).some((h) => h !== '*' && !headerName.test(h))) return 'wizard.mirror.badCompareHeader';
  if (listOfNames(d.ignoreHeaders).some((h) => !headerName.test(h))) return 'wizard.mirror.badHeader';
  if (listOfNames(d.ignoreJsonPaths, /[,\n]+/).some((p) => !jsonPath.test(p))) return 'wizard.mirror.badJsonPath';
  if (!Number.isInteger(d.maxBodyKiB) || d.maxBodyKiB < 1 || d.maxBodyKiB > maxBodyKiB) return 'wizard.mirror.maxBodyRange';
  return null;
}

/** What a mirror release compares, as the API takes it. */
export function buildCompare(d: ReleaseDraft): CompareOptions {
  return {
    body: d.compareBody,
    headers: listOfNames(d.compareHeaders).map((h) => h.toLowerCase()),
    ignoreHeaders: listOfNames(d.ignoreHeaders).map((h) => h.toLowerCase()),
    ignoreJsonPaths: listOfNames(d.ignoreJsonPaths, /[,\n]+/),
    maxBodyBytes: d.maxBodyKiB * 1024,
  };
}

const nameFaultKeys: Record<NameFault, string> = {
  empty: 'validation.required',
  tooLong: 'validation.tooLong',
  notDns1123: 'validation.dns1123',
};

/** i18n keys of what is wrong with a name, or null: the API's own name check (core/names.ts), worded for the console. */
export function nameProblem(name: string): string | null {
  const fault = dns1123LabelFault(name);
  return fault ? nameFaultKeys[fault] : null;
}

/** The next free version name after the service's highest vN, e.g. v1 -> v2. */
export function nextVersionName(service: Service | undefined): string {
  if (!service) return 'v2';
  let max = 0;
  for (const v of service.versions) {
    const m = /^v(\d+)$/.exec(v.name);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return `v${max + 1}`;
}

export function conditionsToBlock(conditions: MatchCondition[]): MatchBlock {
  const block: MatchBlock = {};
  for (const c of conditions) {
    if (c.kind === 'uri') block.uri = { [c.match]: c.value };
    else if (c.kind === 'os') block.headers = { ...block.headers, 'user-agent': { regex: osRegex[c.os] } };
    else if (c.kind === 'header') block.headers = { ...block.headers, [c.name.toLowerCase()]: { [c.match]: c.value } };
    else block.cookie = { ...block.cookie, [c.name]: { [c.match]: c.value } };
  }
  return block;
}

export function buildTraffic(d: ReleaseDraft): Traffic {
  if (d.strategy === 'weights') {
    return { weights: { [d.baseline]: 100 - d.candidateWeight, [d.candidate]: d.candidateWeight } };
  }
  // Matching requests go to the candidate; everyone else stays on the baseline.
  return { match: [conditionsToBlock(d.conditions)], weights: { [d.baseline]: 100 } };
}

/** The candidate's workload overrides; the rest is inherited from the baseline by the API. */
export function buildWorkload(d: ReleaseDraft, kind: Workload['kind']): PartialWorkload | undefined {
  const w: PartialWorkload = {};
  if (kind === 'process') {
    const env = Object.fromEntries(d.env.filter((p) => p.key.trim()).map((p) => [p.key.trim(), p.value]));
    if (Object.keys(env).length > 0) w.env = env;
    if (d.command.trim()) w.command = d.command.trim();
    if (d.args.trim()) w.args = d.args.trim().split(/\s+/);
  } else if (kind === 'kubernetes') {
    if (d.image.trim()) w.image = d.image.trim();
    const env = Object.fromEntries(d.env.filter((p) => p.key.trim()).map((p) => [p.key.trim(), p.value]));
    if (Object.keys(env).length > 0) w.env = env;
  } else if (kind === 'endpoints') {
    const addresses = d.addresses
      .split(/[\s,]+/)
      .map((a) => a.trim())
      .filter(Boolean);
    if (addresses.length > 0) w.addresses = addresses;
  }
  return Object.keys(w).length > 0 ? w : undefined;
}

export function buildRelease(d: ReleaseDraft, service: Service | undefined): ReleaseInput {
  const existing = service?.versions.find((v) => v.name === d.candidate);
  const baselineKind = service?.versions.find((v) => v.name === d.baseline)?.workload.kind ?? 'process';
  const workload = existing ? undefined : buildWorkload(d, baselineKind);
  const common = {
    name: d.name,
    service: d.service,
    baseline: d.baseline || undefined,
    candidate: workload ? { name: d.candidate, workload } : { name: d.candidate },
  };
  // Blue-green: no traffic, the candidate starts at 0 % and is reached by preview until the switch.
  if (d.mode === 'blueGreen') return { ...common, strategy: 'blueGreen' };
  if (d.mode === 'mirror')
    return { ...common, strategy: 'mirror', traffic: { mirror: { percent: d.mirrorPercent } }, compare: buildCompare(d) };
  // With an analysis its steps set the weights: no traffic is sent (the release starts at the baseline's 100 %).
  if (d.strategy === 'weights' && d.analysis.enabled) return { ...common, strategy: 'canary', analysis: buildAnalysis(d.analysis) };
  return { ...common, strategy: 'canary', traffic: buildTraffic(d) };
}
