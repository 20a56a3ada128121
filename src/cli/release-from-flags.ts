import type { MatchBlock, PartialWorkload, ReleaseSpecInput, StringMatch, Traffic } from './api-types.js';

/** The flags of `canary release create` that describe a release without a file. */
export interface ReleaseFlags {
  service?: string;
  baseline?: string;
  candidate?: string;
  weights?: string;
  header?: string[];
  cookie?: string[];
  uriPrefix?: string;
  uriExact?: string;
  uriRegex?: string;
  env?: string[];
  command?: string[];
  image?: string;
  replicas?: string;
  /** canary (default), blueGreen or mirror. */
  strategy?: string;
  mirrorPercent?: string;
  previewHeader?: string;
}

const STRATEGIES = ['canary', 'blueGreen', 'mirror'] as const;

/** `--mirror-percent 20` -> 20; more than 0, at most 100 (fractions allowed, as Istio's mirrorPercentage). */
export function parseMirrorPercent(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 100) {
    throw new Error(`--mirror-percent: must be a number more than 0 and at most 100, got "${text}"`);
  }
  return n;
}

/** `v1=80,v2=20` -> {v1: 80, v2: 20}; the API checks that the versions exist and the sum is 100. */
export function parseWeights(text: string, flag = 'weights'): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const part of text.split(/[,\s]+/).filter(Boolean)) {
    const m = /^([^=]+)=(\d+)$/.exec(part);
    if (!m) throw new Error(`${flag}: "${part}" is not VERSION=WEIGHT; write e.g. v1=80,v2=20`);
    if (weights[m[1]!] !== undefined) throw new Error(`${flag}: version "${m[1]}" is named twice`);
    weights[m[1]!] = Number(m[2]);
  }
  if (Object.keys(weights).length === 0) throw new Error(`${flag}: give at least one VERSION=WEIGHT, e.g. v1=80,v2=20`);
  return weights;
}

/**
 * `NAME=VALUE` (exact), `NAME^=VALUE` (prefix) or `NAME~=REGEX` (RE2 regex, whole value) -> [name, match].
 */
export function parseMatchFlag(text: string, flag: string): [string, StringMatch] {
  const m = /^([^=^~]+)(\^=|~=|=)(.*)$/.exec(text);
  if (!m || m[1]!.trim() === '') {
    throw new Error(
      `--${flag}: "${text}" is not NAME=VALUE (exact), NAME^=VALUE (prefix) or NAME~=REGEX; write e.g. --${flag} ${flag === 'cookie' ? 'user' : 'end-user'}=jason`,
    );
  }
  const name = m[1]!.trim();
  const value = m[3]!;
  if (m[2] === '^=') return [name, { prefix: value }];
  if (m[2] === '~=') return [name, { regex: value }];
  return [name, { exact: value }];
}

/** `K=V` pairs -> record. */
export function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--env: "${pair}" is not NAME=VALUE; write e.g. --env SERVICE_VERSION=v2`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/**
 * Builds the release body from flags. With a match (--header, --cookie, --uri-*), matching requests go to the
 * candidate and the rest by --weights (default: all to the baseline), as DESIGN.md's `{"match", "weights"}` form.
 */
export function releaseFromFlags(name: string | undefined, flags: ReleaseFlags): ReleaseSpecInput {
  const missing = [!name && 'NAME (the first argument)', !flags.service && '--service', !flags.candidate && '--candidate'].filter(Boolean);
  if (missing.length > 0) {
    throw new Error(`release create: missing ${missing.join(', ')}; give them as flags, or the whole release with -f FILE (see --help)`);
  }
  const block: MatchBlock = {};
  const headers = Object.fromEntries((flags.header ?? []).map((h) => parseMatchFlag(h, 'header')));
  const cookies = Object.fromEntries((flags.cookie ?? []).map((c) => parseMatchFlag(c, 'cookie')));
  if (Object.keys(headers).length > 0) block.headers = headers;
  if (Object.keys(cookies).length > 0) block.cookie = cookies;
  const uris: StringMatch[] = [];
  if (flags.uriExact !== undefined) uris.push({ exact: flags.uriExact });
  if (flags.uriPrefix !== undefined) uris.push({ prefix: flags.uriPrefix });
  if (flags.uriRegex !== undefined) uris.push({ regex: flags.uriRegex });
  if (uris.length > 1) throw new Error('give one of --uri-exact, --uri-prefix and --uri-regex');
  if (uris[0]) block.uri = uris[0];
  const hasMatch = Object.keys(block).length > 0;

  const strategy = flags.strategy ?? 'canary';
  if (!(STRATEGIES as readonly string[]).includes(strategy)) {
    throw new Error(`--strategy: must be canary, blueGreen or mirror, got "${strategy}"`);
  }
  if (flags.mirrorPercent !== undefined && strategy !== 'mirror') {
    throw new Error('--mirror-percent: only with --strategy mirror');
  }
  let traffic: Traffic | undefined;
  if (strategy === 'canary') {
    let weights = flags.weights !== undefined ? parseWeights(flags.weights, '--weights') : undefined;
    if (!weights) {
      if (!hasMatch)
        throw new Error('release create: say how traffic moves: --weights v1=50,v2=50, or a match (--header, --cookie, --uri-prefix)');
      if (!flags.baseline)
        throw new Error('release create: with a match and no --weights, give --baseline so that the other requests stay on it');
      weights = { [flags.baseline]: 100 };
    }
    traffic = hasMatch ? { match: [block], weights } : { weights };
  } else if (flags.weights !== undefined || hasMatch) {
    // Neither mode splits ordinary traffic: say so here rather than send what the API refuses.
    throw new Error(
      strategy === 'blueGreen'
        ? '--strategy blueGreen sends no ordinary traffic to the candidate until `canary release takeover`; drop --weights/--header/--cookie/--uri-* (testers reach it with the preview header), or use --strategy canary'
        : '--strategy mirror answers every request from the baseline and copies --mirror-percent of them to the candidate; drop --weights/--header/--cookie/--uri-*',
    );
  } else if (strategy === 'mirror') {
    traffic = { mirror: { percent: flags.mirrorPercent === undefined ? 100 : parseMirrorPercent(flags.mirrorPercent) } };
  }

  const workload: PartialWorkload = {};
  if (flags.env && flags.env.length > 0) workload.env = parseEnv(flags.env);
  if (flags.command && flags.command.length > 0) {
    // `--command "node server.js"` (one quoted string) or `--command node server.js` (put it last).
    const words = flags.command.length === 1 ? flags.command[0]!.trim().split(/\s+/) : flags.command;
    workload.command = words[0]!;
    workload.args = words.slice(1);
  }
  if (flags.image) workload.image = flags.image;
  if (flags.replicas !== undefined) {
    const n = Number(flags.replicas);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--replicas: must be a whole number of at least 1, got "${flags.replicas}"`);
    workload.replicas = n;
  }

  const release: ReleaseSpecInput = {
    name: name!,
    service: flags.service!,
    strategy: strategy as (typeof STRATEGIES)[number],
    candidate: { name: flags.candidate!, ...(Object.keys(workload).length > 0 ? { workload } : {}) },
    ...(traffic ? { traffic } : {}),
  };
  if (flags.baseline) release.baseline = flags.baseline;
  if (flags.previewHeader !== undefined) release.preview = { header: flags.previewHeader };
  return release;
}
