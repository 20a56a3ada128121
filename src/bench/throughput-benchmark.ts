import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { atLeast, type BenchmarkResult, type Figure, info } from './bench-report.js';
import { type BenchContext, cliEntry } from './bench-context.js';
import { peersScriptPath, peersToolsMissing, type PeersRun, runPeersScript } from './peers-script.js';
import { writeRouteFile, splitService } from './route-files.js';

/** The proxy's telemetry flags, as `canary proxy --help` lists them (another part of the tree adds them). */
export interface TelemetryFlags {
  /** e.g. `--trace-sampling` with its value for "off" and for "100%". */
  sampling: { flag: string; off: string; all: string } | null;
  help: string;
}

export function detectTelemetryFlags(ctx: BenchContext): TelemetryFlags {
  const help = execFileSync(process.execPath, [cliEntry(ctx), 'proxy', '--help'], { cwd: ctx.repoRoot, encoding: 'utf8' });
  const m = /(--[\w-]*(?:trac|sampl)[\w-]*)\s+<([^>]+)>/.exec(help);
  if (!m) return { sampling: null, help };
  const percent = /percent|%/.test(m[2]!) || /percent|%/.test(help.slice(m.index, m.index + 200));
  return { sampling: { flag: m[1]!, off: '0', all: percent ? '100' : '1' }, help };
}

/** The command the peers script starts for "ours": one proxy on its port 18094 with the script's upstreams. */
export function oursCommand(config: string, extra: string[] = []): string {
  return ['node', 'bin/canary.js', 'proxy', '--config', config, '--listen', '127.0.0.1:18094', ...extra].join(' ');
}

export function peersFigures(label: string, run: PeersRun, withTarget: boolean): Figure[] {
  const ours = run.medians.ours ?? null;
  const haproxy = run.medians.haproxy ?? null;
  const nginx = run.medians.nginx ?? null;
  const peer = `haproxy ${haproxy ?? 'n/a'} req/s, nginx ${nginx ?? 'n/a'} req/s, direct ${run.medians.direct ?? 'n/a'} req/s`;
  const ratio = run.ratios['ours/haproxy'] ?? null;
  return [
    info(`${label}: median req/s`, ours, 'req/s', { peer }),
    withTarget ? atLeast(`${label}: ours/haproxy`, ratio, 0.5, 'x', { peer }) : info(`${label}: ours/haproxy`, ratio, 'x', { peer }),
    info(`${label}: ours/nginx`, run.ratios['ours/nginx'] ?? null, 'x'),
  ];
}

/**
 * Benchmark 1: throughput of one proxy process against nginx and HAProxy in the same run, through the shared
 * proxy-vs-peers.sh (wrk, 1 thread, 32 keep-alive connections, rounds interleaved), 50/50 split.
 */
export async function throughputBenchmark(ctx: BenchContext): Promise<Omit<BenchmarkResult, 'seconds'>> {
  const base = { id: 'throughput', title: '1. Throughput vs nginx/HAProxy (one process)' };
  const missing = peersToolsMissing();
  if (!existsSync(peersScriptPath(ctx)) || missing.length > 0) {
    return {
      ...base,
      status: 'skipped',
      figures: [],
      notes: [
        existsSync(peersScriptPath(ctx))
          ? `missing tools: ${missing.join(', ')} (apt-get install nginx-light haproxy wrk)`
          : `${peersScriptPath(ctx)} is missing (the shared comparison script; set CANARY_PEERS_SCRIPT)`,
      ],
    };
  }
  const config = writeRouteFile(ctx.workDir, 'peers.yaml', [splitService('reviews', '127.0.0.1:18081', '127.0.0.1:18082', [50, 50], true)]);
  const opts = ctx.smoke ? { seconds: 1, rounds: 1 } : { seconds: 5, rounds: 3 };
  const flags = detectTelemetryFlags(ctx);
  const figures: Figure[] = [];
  const raw: string[] = [];
  const notes = [
    `proxy-vs-peers.sh --seconds ${opts.seconds} --rounds ${opts.rounds}: wrk -t1 -c32, 50/50 split, nginx upstreams; ours = \`${oursCommand('<file>', ['--workers', '1'])}\``,
  ];
  // Request metrics on (a static proxy records nothing unless asked) when the CLI has the flag.
  const metrics = /--metrics-port\b/.test(flags.help) ? ['--metrics-port', '0'] : [];
  const common = ['--workers', '1', ...metrics];
  const variants: { label: string; extra: string[] }[] = [{ label: 'default telemetry', extra: common }];
  if (flags.sampling) {
    variants.push({ label: 'tracing off', extra: [...common, flags.sampling.flag, flags.sampling.off] });
    variants.push({ label: 'tracing 100%', extra: [...common, flags.sampling.flag, flags.sampling.all] });
  } else {
    notes.push(
      '`canary proxy --help` lists no tracing/sampling option yet: measured with the defaults only (tracing off and 100% not measurable).',
    );
  }
  if (!/metric/i.test(flags.help))
    notes.push('`canary proxy --help` lists no metrics option: request metrics are whatever the proxy does by default.');
  for (const v of ctx.smoke ? variants.slice(0, 1) : variants) {
    const run = await runPeersScript(ctx, oursCommand(config, v.extra), opts);
    raw.push(`# ${v.label}`, ...run.lines);
    if (run.exitCode !== 0) throw new Error(`proxy-vs-peers.sh exited ${run.exitCode}:\n${run.lines.slice(-15).join('\n')}`);
    figures.push(...peersFigures(v.label, run, true));
  }
  return { ...base, status: 'ok', figures, notes, raw };
}
