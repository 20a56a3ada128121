import { type Command, Option } from 'commander';
import type { ObservedHistoryAnswer, Release, Traffic } from '../api-types.js';
import { addClientOptions, clientAction } from '../client-command.js';
import { describeMatch } from '../describe-rules.js';
import { formatAge, formatFields, formatShares, formatTable, formatWeights, printResult } from '../output.js';
import { parseWeights, type ReleaseFlags, releaseFromFlags } from '../release-from-flags.js';
import { readSpecObject } from '../spec-file.js';
import { registerReleaseCompareCommand } from './release-compare-command.js';
import {
  ANALYSIS_HELP,
  type AnalysisFlags,
  addAnalysisOptions,
  analysisDetail,
  analysisFromFlags,
  registerAnalysisCommands,
} from './analysis-commands.js';

const path = (name: string) => `/api/v1/releases/${encodeURIComponent(name)}`;

/**
 * The WEIGHTS column: `v1=50,v2=50`, `match->v2; v1=100`, `3 rules`; blueGreen `v1=100 (v2 waits)`, mirror
 * `v1=100, mirror 20% -> v2`.
 */
export function describeRelease(r: Pick<Release, 'strategy' | 'baseline' | 'candidate' | 'traffic'>): string {
  const candidate = r.candidate.name;
  if (r.strategy === 'blueGreen') return `${r.baseline}=100 (${candidate} waits for the switch)`;
  if (r.strategy === 'mirror') return `${r.baseline}=100, mirror ${r.traffic?.mirror?.percent ?? 100}% -> ${candidate}`;
  return describeTraffic(r.traffic ?? {}, candidate);
}

export function describeTraffic(t: Traffic, candidate: string): string {
  if (t.rules) return `${t.rules.length} rule${t.rules.length === 1 ? '' : 's'}`;
  const weights = formatWeights(t.weights);
  return t.match ? `match->${candidate}; ${weights}` : weights;
}

export function releaseTable(items: Release[]): string {
  return formatTable(
    ['NAME', 'SERVICE', 'PHASE', 'GOVERNOR', 'WEIGHTS', 'AGE'],
    items.map((r) => [r.name, r.service, r.status.phase, r.status.governor ?? '-', describeRelease(r), formatAge(r.createdAt)]),
  );
}

export function releaseDetail(r: Release): string {
  const t = r.traffic ?? {};
  const fields: [string, string][] = [
    ['Name', r.name],
    ['Service', r.service],
    ['Strategy', r.strategy ?? 'canary'],
    ['Baseline', r.baseline],
    ['Candidate', r.candidate.name],
    ['Phase', r.status.phase],
    [
      'Governor',
      r.status.governor ? `${r.status.governor} (gets 100%; \`canary release resume ${r.name}\` restores the traffic below)` : '-',
    ],
  ];
  if (r.status.standby)
    fields.push(['Standby', `${r.status.standby} (keeps running; \`canary release rollback ${r.name}\` switches back at once)`]);
  if (r.strategy === 'blueGreen') fields.push(['Traffic', describeRelease(r)]);
  else if (t.rules) fields.push(['Traffic', `${t.rules.length} rule(s); see -o yaml`]);
  else {
    if (t.match) fields.push(['Match', `${describeMatch(t.match)} -> ${r.candidate.name}`]);
    fields.push(['Weights', formatWeights(t.weights)]);
    if (t.sticky) fields.push(['Sticky', JSON.stringify(t.sticky)]);
    if (t.mirror) fields.push(['Mirror', `${t.mirror.version ?? r.candidate.name} ${t.mirror.percent ?? 100}%`]);
  }
  if (r.compare) {
    const c = r.compare;
    const ignored = [...c.ignoreHeaders, ...c.ignoreJsonPaths];
    fields.push([
      'Compare',
      `status, headers ${c.headers.join(',') || '-'}${c.body ? ', body' : ''}${ignored.length > 0 ? ` (ignoring ${ignored.join(', ')})` : ''}; ` +
        `bodies up to ${c.maxBodyBytes} bytes (\`canary release compare ${r.name}\`)`,
    ]);
  }
  fields.push(
    ['Observed', formatShares(r.status.observed)],
    ['Resource version', r.resourceVersion],
    ['Created', `${r.createdAt} by ${r.createdBy}`],
  );
  let text = formatFields(fields);
  text += analysisDetail(r).trimEnd() ? `\n${analysisDetail(r).trimEnd()}` : '';
  if (r.status.conditions.length > 0) {
    text += `\n\nConditions:\n${formatTable(
      ['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'],
      r.status.conditions.map((c) => [c.type, c.status, c.reason, formatAge(c.at), c.message]),
    )}`;
  }
  return `${text}\n`;
}

const percent = (v: number | null | undefined) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '-');
const clock = (iso: string) => {
  const d = new Date(iso);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
};

/** The observed history as a table: a row per 10-s point, each version's share and success, the weights in force. */
export function observedHistoryTable(h: ObservedHistoryAnswer): string {
  const head = `Release ${h.release} (service ${h.service}): last ${h.minutes} min, one row per ${h.bucketSeconds} s; weights now ${formatWeights(h.weights)}`;
  if (h.points.length === 0)
    return `${head}
No traffic to ${h.service} observed in the last ${h.minutes} min.
`;
  const rps = (p: ObservedHistoryAnswer['points'][number]) => Object.values(p.versions).reduce((n, v) => n + v.rps, 0);
  const table = formatTable(
    ['TIME', 'REQ/S', ...h.versions.map((v) => `${v} SHARE`), ...h.versions.map((v) => `${v} SUCCESS`), 'WEIGHTS'],
    h.points.map((p) => [
      clock(p.at),
      rps(p).toFixed(2),
      ...h.versions.map((v) => percent(p.requests === 0 ? null : p.versions[v]?.share)),
      ...h.versions.map((v) => percent(p.versions[v]?.successRate)),
      p.weights ? formatWeights(p.weights) : '-',
    ]),
  );
  return `${head}
${table}`;
}

/** What `--dry-run` gets back (`?dryRun=true`): the result as it would be and the plan of cluster objects. */
export interface DryRunResult {
  dryRun: true;
  release?: Release;
  finish?: { release: string; service: string; kept: string; retired: string };
  plan: { action: string; kind: string; name: string }[];
  planText: string;
}

export const DRY_RUN_HELP = 'validate and print the plan (the cluster objects it would write); change nothing';
export const dryQuery = (dryRun: boolean | undefined) => (dryRun ? { dryRun: 'true' } : {});

/** A dry run as text: what would result, then the plan (with a cluster backend) one line per object and its YAML. */
export function dryRunText(res: DryRunResult, what: string): string {
  const head = res.release
    ? `dry run: ${oneLine(res.release, what)}`
    : res.finish
      ? `dry run: release/${res.finish.release} ${what}: ${res.finish.kept} kept, ${res.finish.retired} retired`
      : `dry run: ${what}`;
  const plan = res.planText ? `\n${res.planText}` : '\n(no cluster backend: nothing outside the control plane would change)\n';
  return `${head}${plan}Nothing was changed.`;
}

const oneLine = (r: Release, what: string) =>
  `release/${r.name} ${what}: phase ${r.status.phase}, governor ${r.status.governor ?? '-'}, weights ${describeRelease(r)}`;

/** `canary release list|get|observed|create|set-weights|set-traffic|takeover|rollback|resume|finish`. */
export function registerReleaseCommands(program: Command): void {
  const release = program
    .command('release')
    .alias('releases')
    .description('canary release jobs: create, shift traffic, take over, roll back, resume, finish')
    .addHelpText(
      'after',
      `
The seed scenario:
  canary release create reviews-canary --service reviews --baseline v1 --candidate v2 \\
      --env SERVICE_VERSION=v2 --weights v1=50,v2=50
  canary release set-weights reviews-canary v1=20,v2=80
  canary release takeover reviews-canary v2     # v2 gets 100%
  canary release rollback reviews-canary        # v1 (the baseline) gets 100%
  canary release resume reviews-canary          # the weights apply again
  canary release finish reviews-canary --keep v2`,
    );

  addClientOptions(release.command('list').alias('ls').description('list active releases'))
    .addHelpText('after', '\nExamples:\n  canary release list\n  canary release list -o json')
    .action(
      clientAction(async ({ api, output }) => {
        const res = await api.get<{ items: Release[] }>('/api/v1/releases');
        printResult(output, res, () =>
          res.items.length > 0 ? releaseTable(res.items) : 'No active releases. Start one with `canary release create --help`.',
        );
      }),
    );

  addClientOptions(
    release
      .command('get')
      .argument('<name>', 'release name')
      .description('show a release: phase, governor, traffic configured and observed, conditions'),
  )
    .addHelpText('after', '\nExamples:\n  canary release get reviews-canary\n  canary release get reviews-canary -o yaml')
    .action(
      clientAction(async ({ api, output }, name: string) => {
        const r = await api.get<Release>(path(name));
        printResult(output, r, () => releaseDetail(r));
      }),
    );

  addClientOptions(
    release
      .command('observed')
      .argument('<name>', 'release name')
      .option('--minutes <n>', 'how far back, 1 to 60', '15')
      .description('the share of traffic each version really got, one row per 10 s, with the weights in force'),
  )
    .addHelpText(
      'after',
      `
The control plane keeps the last 60 minutes in memory (fed by the proxies' telemetry).

Examples:
  canary release observed reviews-canary
  canary release observed reviews-canary --minutes 60 -o json`,
    )
    .action(
      clientAction(async ({ api, output }, name: string, opts: { minutes: string }) => {
        const h = await api.get<ObservedHistoryAnswer>(`${path(name)}/observed-history`, { query: { minutes: opts.minutes } });
        printResult(output, h, () => observedHistoryTable(h));
      }),
    );

  registerReleaseCompareCommand(release, path);

  addClientOptions(
    addAnalysisOptions(release.command('create'))
      .argument('[name]', 'release name (or in the file)')
      .description('create a release (canary, blueGreen or mirror): starts the candidate; traffic moves once it is ready')
      .option('-f, --file <file>', 'the release as YAML or JSON (- for stdin); flags below are then not needed')
      .option('--service <service>', 'the service to release')
      .option('--baseline <version>', "the version serving now (default: the service's stable version)")
      .option('--candidate <version>', 'the new version (created when the service lacks it)')
      .option('--strategy <strategy>', 'canary (default): split traffic; blueGreen: 0% until takeover switches 100%; mirror: copy requests')
      .option('--weights <weights>', 'canary: traffic split, e.g. v1=90,v2=10')
      .addOption(
        new Option('--header <match...>', 'requests with this header go to the candidate: NAME=VALUE, NAME^=PREFIX or NAME~=REGEX'),
      )
      .addOption(
        new Option('--cookie <match...>', 'requests with this cookie go to the candidate: NAME=VALUE, NAME^=PREFIX or NAME~=REGEX'),
      )
      .option('--uri-prefix <prefix>', 'requests whose path starts with this go to the candidate')
      .option('--uri-exact <path>', 'requests with exactly this path go to the candidate')
      .option('--uri-regex <regex>', 'requests whose path matches this RE2 regex go to the candidate')
      .addOption(new Option('--env <pair...>', "candidate workload: environment NAME=VALUE (the rest is the baseline's)"))
      .addOption(new Option('--command <words...>', 'candidate workload: command and arguments (put it last, or quote it)'))
      .option('--image <image>', 'candidate workload (kubernetes): image')
      .option('--replicas <n>', 'candidate workload: number of instances')
      .option('--mirror-percent <n>', 'mirror: share of requests copied to the candidate, more than 0 and at most 100 (default 100)')
      .option('--preview-header <name>', 'the header that reaches the candidate with its name as value (default x-canary-preview)')
      .option('--dry-run', DRY_RUN_HELP),
  )
    .addHelpText('after', ANALYSIS_HELP)
    .addHelpText(
      'after',
      `
Three strategies (docs/releases.md tells when to use which):
  canary     traffic moves to the candidate by --weights, or by request content (--header, --cookie,
             --uri-*): matching requests go to the candidate, the others by --weights (default: all to the
             baseline). Several conditions must all hold (AND).
  blueGreen  the candidate runs beside the baseline with no ordinary traffic; \`canary release takeover NAME
             V\` switches 100% at once, the baseline stays as standby so \`rollback\` is instant, and
             \`canary release finish NAME --keep V\` retires the standby.
  mirror     every answer comes from the baseline; --mirror-percent of the requests (default 100) are
             copied to the candidate and its answers discarded (\`canary release compare NAME\` shows how
             they differ). \`takeover\` turns the job into a canary at 100% candidate.
In every strategy a request with the header \`x-canary-preview: <candidate>\` (--preview-header to rename
it) reaches the candidate once it is ready, so testers can try it first:
  curl -H 'x-canary-preview: v2' http://127.0.0.1:8000/productpage

Without --command or --image the candidate's workload is the baseline's, with --env applied: the Bookinfo demo
reads its version from SERVICE_VERSION.

Examples:
  # by weight: half of the requests to v2
  canary release create reviews-canary --service reviews --baseline v1 --candidate v2 \\
      --env SERVICE_VERSION=v2 --weights v1=50,v2=50

  # by request content: user jason (cookie or header) sees v2, everybody else v1
  canary release create reviews-canary --service reviews --baseline v1 --candidate v2 \\
      --env SERVICE_VERSION=v2 --cookie user=jason
  canary release create reviews-canary --service reviews --baseline v1 --candidate v2 \\
      --header end-user=jason --uri-prefix /api --weights v1=100

  # blue-green: v2 beside v1 at 0%, then switch, then keep v2
  canary release create reviews-bg --service reviews --candidate v2 --env SERVICE_VERSION=v2 --strategy blueGreen
  canary release takeover reviews-bg v2
  canary release finish reviews-bg --keep v2

  # mirroring: v1 answers, 20% of the requests are copied to v2
  canary release create reviews-shadow --service reviews --candidate v2 --env SERVICE_VERSION=v2 \\
      --strategy mirror --mirror-percent 20

  # a new command for the candidate
  canary release create ratings-next --service ratings --candidate v2 --weights v1=90,v2=10 \\
      --command node dist/demo/bookinfo/ratings.js

  # the whole release from a file (DESIGN.md's Release shape)
  canary release create -f reviews-canary.yaml`,
    )
    .action(
      clientAction(
        async ({ api, output }, name: string | undefined, opts: ReleaseFlags & AnalysisFlags & { file?: string; dryRun?: boolean }) => {
          let body: unknown;
          const analysis = analysisFromFlags(opts);
          if (opts.file) {
            const spec = readSpecObject(opts.file);
            body = { ...spec, ...(name ? { name } : {}), ...(analysis ? { analysis } : {}) };
          } else if (analysis) {
            // The steps set the weights: no --weights needed.
            const { traffic: _t, ...rest } = releaseFromFlags(name, {
              ...opts,
              weights: opts.weights ?? `${opts.baseline ?? 'baseline'}=100`,
            });
            body = { ...rest, analysis };
          } else {
            body = releaseFromFlags(name, opts);
          }
          if (opts.dryRun) {
            const res = await api.post<DryRunResult>('/api/v1/releases', { body, query: dryQuery(true) });
            printResult(output, res, () => dryRunText(res, 'would be created'));
            return;
          }
          const r = await api.post<Release>('/api/v1/releases', { body });
          printResult(
            output,
            r,
            () =>
              `${oneLine(r, 'created')}\nWatch it with \`canary release get ${r.name}\`; traffic moves once ${r.candidate.name} is ready.`,
          );
        },
      ),
    );

  addClientOptions(
    release
      .command('set-weights')
      .argument('<name>', 'release name')
      .argument('<weights>', 'e.g. v1=80,v2=20 (integers summing to 100)')
      .option('--dry-run', DRY_RUN_HELP)
      .description("change a release's traffic split (keeps its match, sticky and mirror settings)"),
  )
    .addHelpText(
      'after',
      `
The change is made with If-Match on the release's resourceVersion: if someone changed it meanwhile, the API
answers 409 and nothing changes. While a governor is set (after takeover or rollback) the new weights are
stored and apply on \`canary release resume\`.

Examples:
  canary release set-weights reviews-canary v1=80,v2=20
  canary release set-weights reviews-canary v1=0,v2=100`,
    )
    .action(
      clientAction(async ({ api, output }, name: string, weightsText: string, opts: { dryRun?: boolean }) => {
        const weights = parseWeights(weightsText);
        const current = await api.get<Release>(path(name));
        if (current.strategy !== 'canary') {
          throw new Error(`release ${name} is a ${current.strategy} release: it has no weights to set`);
        }
        if (current.traffic?.rules) {
          throw new Error(`release ${name} routes by rules, not weights; change them with \`canary release set-traffic ${name} -f FILE\``);
        }
        const traffic: Traffic = { ...current.traffic, weights };
        const r = await api.patch<Release | DryRunResult>(path(name), {
          body: { traffic },
          ifMatch: current.resourceVersion,
          query: dryQuery(opts.dryRun),
        });
        printResult(output, r, () => ('dryRun' in r ? dryRunText(r, 'would be updated') : oneLine(r, 'updated')));
      }),
    );

  addClientOptions(
    release
      .command('set-traffic')
      .argument('<name>', 'release name')
      .requiredOption('-f, --file <file>', 'the new traffic as YAML or JSON: {weights}, {match, weights} or {rules}; or {traffic: ...}')
      .option('--dry-run', DRY_RUN_HELP)
      .description("replace a release's whole traffic policy (weights, match rules or full rules)"),
  )
    .addHelpText(
      'after',
      `
Examples:
  echo '{"match":[{"cookie":{"user":{"exact":"jason"}}}],"weights":{"v1":100}}' | canary release set-traffic reviews-canary -f -
  canary release set-traffic reviews-canary -f traffic.yaml`,
    )
    .action(
      clientAction(async ({ api, output }, name: string, opts: { file: string; dryRun?: boolean }) => {
        const doc = readSpecObject(opts.file);
        const body = 'traffic' in doc ? doc : { traffic: doc };
        const r = await api.patch<Release | DryRunResult>(path(name), { body, query: dryQuery(opts.dryRun) });
        printResult(output, r, () => ('dryRun' in r ? dryRunText(r, 'would be updated') : oneLine(r, 'updated')));
      }),
    );

  addClientOptions(
    release
      .command('takeover')
      .argument('<name>', 'release name')
      .argument('<version>', 'the version to get 100%')
      .option('--dry-run', DRY_RUN_HELP)
      .description('one version gets 100% of the traffic, at once'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  canary release takeover reviews-canary v2\n  canary release resume reviews-canary        # undo: the stored traffic applies again',
    )
    .action(
      clientAction(async ({ api, output }, name: string, version: string, opts: { dryRun?: boolean }) => {
        const r = await api.post<Release | DryRunResult>(`${path(name)}/takeover`, { body: { version }, query: dryQuery(opts.dryRun) });
        printResult(output, r, () =>
          'dryRun' in r ? dryRunText(r, `would be taken over by ${version}`) : oneLine(r, `taken over by ${version}`),
        );
      }),
    );

  addClientOptions(
    release
      .command('rollback')
      .argument('<name>', 'release name')
      .option('--dry-run', DRY_RUN_HELP)
      .description('the baseline gets 100% of the traffic, at once, in any phase'),
  )
    .addHelpText('after', '\nExamples:\n  canary release rollback reviews-canary')
    .action(
      clientAction(async ({ api, output }, name: string, opts: { dryRun?: boolean }) => {
        const r = await api.post<Release | DryRunResult>(`${path(name)}/rollback`, { query: dryQuery(opts.dryRun) });
        printResult(output, r, () => ('dryRun' in r ? dryRunText(r, 'would be rolled back') : oneLine(r, 'rolled back')));
      }),
    );

  addClientOptions(
    release
      .command('resume')
      .argument('<name>', 'release name')
      .option('--dry-run', DRY_RUN_HELP)
      .description("clear the governor: the release's stored traffic applies again"),
  )
    .addHelpText('after', '\nExamples:\n  canary release resume reviews-canary')
    .action(
      clientAction(async ({ api, output }, name: string, opts: { dryRun?: boolean }) => {
        const r = await api.post<Release | DryRunResult>(`${path(name)}/resume`, { query: dryQuery(opts.dryRun) });
        printResult(output, r, () => ('dryRun' in r ? dryRunText(r, 'would be resumed') : oneLine(r, 'resumed')));
      }),
    );

  addClientOptions(
    release
      .command('finish')
      .argument('<name>', 'release name')
      .requiredOption('--keep <version>', 'the version that stays (the other one is retired)')
      .option('--dry-run', DRY_RUN_HELP)
      .description("finish a release: keep one version, retire the other's workload, route to one version"),
  )
    .addHelpText(
      'after',
      `
Routing moves to the kept version first; the other version's instances stop after a drain period, so no request
in flight fails. The release is deleted; its events stay (\`canary events --release NAME\`).

Examples:
  canary release finish reviews-canary --keep v2   # promote the candidate
  canary release finish reviews-canary --keep v1   # abandon it`,
    )
    .action(
      clientAction(async ({ api, output }, name: string, opts: { keep: string; dryRun?: boolean }) => {
        const res = await api.delete<unknown>(path(name), { query: { keep: opts.keep, ...dryQuery(opts.dryRun) } });
        printResult(output, res, () =>
          opts.dryRun ? dryRunText(res as DryRunResult, 'would be finished') : `release/${name} finished: ${opts.keep} kept`,
        );
      }),
    );

  registerAnalysisCommands(release);
}
