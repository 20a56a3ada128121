import { dns1123LabelFault, type NameFault } from '@canary/core/names.js';
import type { MatchBlock, MatchKind, PartialWorkload, ReleaseInput, Service, Traffic, Workload } from '../api/types.js';

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
  return {
    name: d.name,
    service: d.service,
    strategy: 'canary',
    baseline: d.baseline || undefined,
    candidate: workload ? { name: d.candidate, workload } : { name: d.candidate },
    traffic: buildTraffic(d),
  };
}
