import { existsSync } from 'node:fs';
import { type BenchmarkResult, type Figure, info } from './bench-report.js';
import type { BenchContext } from './bench-context.js';
import { peersScriptPath, peersToolsMissing, runPeersScript } from './peers-script.js';
import { round } from './percentiles.js';
import { splitService, writeRouteFile } from './route-files.js';
import { oursCommand, peersFigures } from './throughput-benchmark.js';

/**
 * Benchmark 7: `canary proxy --workers N` scaling, through the same peers script. Runs with 1 and with 2 workers;
 * the scaling figure divides the ours/haproxy ratios of the two runs, so machine noise between runs cancels.
 */
export async function workersBenchmark(ctx: BenchContext): Promise<Omit<BenchmarkResult, 'seconds'>> {
  const base = { id: 'workers', title: '7. Workers: canary proxy --workers 1 -> 2' };
  const missing = peersToolsMissing();
  if (!existsSync(peersScriptPath(ctx)) || missing.length > 0)
    return { ...base, status: 'skipped', figures: [], notes: [`needs ${peersScriptPath(ctx)} and nginx, haproxy, wrk`] };
  const config = writeRouteFile(ctx.workDir, 'workers.yaml', [
    splitService('reviews', '127.0.0.1:18081', '127.0.0.1:18082', [50, 50], true),
  ]);
  const opts = ctx.smoke ? { seconds: 1, rounds: 1 } : { seconds: 5, rounds: 3 };
  const figures: Figure[] = [];
  const raw: string[] = [];
  const ratios: number[] = [];
  const rps: number[] = [];
  for (const n of ctx.smoke ? [2] : [1, 2]) {
    const run = await runPeersScript(ctx, oursCommand(config, ['--workers', String(n)]), opts);
    raw.push(`# --workers ${n}`, ...run.lines);
    if (run.exitCode !== 0) throw new Error(`proxy-vs-peers.sh exited ${run.exitCode}:\n${run.lines.slice(-15).join('\n')}`);
    figures.push(...peersFigures(`${n} worker${n > 1 ? 's' : ''}`, run, false).slice(0, 2));
    ratios.push(run.ratios['ours/haproxy'] ?? Number.NaN);
    rps.push(run.medians.ours ?? Number.NaN);
  }
  if (ratios.length === 2)
    figures.push(
      info('scaling 1 -> 2 workers (ratio of ours/haproxy)', round(ratios[1]! / ratios[0]!, 2), 'x', {
        peer: `req/s ${rps[0]} -> ${rps[1]}`,
      }),
    );
  return {
    ...base,
    status: 'ok',
    figures,
    notes: [
      'node:cluster, round-robin hand-out of connections by the primary; each worker follows the route source itself and keeps its own weighted-pick state (exact split per worker).',
      `On this machine ${'2'} cores also run wrk, the nginx upstreams and the peers, so 2 workers cannot double throughput; on a dedicated host with more cores they scale further.`,
    ],
    raw,
  };
}
