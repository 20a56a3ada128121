import { atMost, type BenchmarkResult, type Figure } from './bench-report.js';
import { type BenchContext, startProxy, startUpstreams } from './bench-context.js';
import { countBodies } from './http-load.js';
import { round } from './percentiles.js';
import { splitService, writeRouteFile } from './route-files.js';

/**
 * Benchmark 4: split accuracy of one proxy process. 1000 requests per split (1/99, 30/70, 50/50), each split a
 * service of its own picked by the Host header; |observed - configured| share of v1 in percentage points.
 */
export async function splitAccuracyBenchmark(ctx: BenchContext): Promise<Omit<BenchmarkResult, 'seconds'>> {
  const requests = 1000;
  const splits: [number, number][] = [
    [1, 99],
    [30, 70],
    [50, 50],
  ];
  const upstreams = await startUpstreams(ctx, ['v1', 'v2']);
  const [a, b] = upstreams.addresses as [string, string];
  const config = writeRouteFile(
    ctx.workDir,
    'splits.yaml',
    splits.map(([w1, w2]) => splitService(`split-${w1}-${w2}`, a, b, [w1, w2])),
  );
  const proxy = await startProxy(ctx, ['--config', config, '--workers', '1']);
  const figures: Figure[] = [];
  const raw: string[] = [];
  for (const [w1, w2] of splits) {
    const counts = await countBodies(`http://127.0.0.1:${proxy.port}`, requests, { host: `split-${w1}-${w2}` });
    const observed = ((counts.v1 ?? 0) / requests) * 100;
    raw.push(`${w1}/${w2}: ${JSON.stringify(counts)}`);
    figures.push(
      atMost(`${w1}/${w2}: |observed - configured| v1 share`, round(Math.abs(observed - w1), 2), 0.5, 'pp', {
        note: `v1 ${counts.v1 ?? 0}, v2 ${counts.v2 ?? 0} of ${requests}${Object.keys(counts).length > 2 ? `, other ${JSON.stringify(counts)}` : ''}`,
      }),
    );
  }
  await proxy.process.stop();
  await upstreams.process.stop();
  return {
    id: 'split-accuracy',
    title: '4. Split accuracy (1000 requests per split, one process)',
    status: 'ok',
    figures,
    notes: [
      "sequential requests over one keep-alive connection; smooth weighted round-robin is exact per process, so any deviation is a bug. Peer: nginx/HAProxy round-robin are exact too (see the peers script's split check in benchmark 1).",
    ],
    raw,
  };
}
