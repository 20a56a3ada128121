import { atMost, type BenchmarkResult, info } from './bench-report.js';
import { type BenchContext, startUpstreams } from './bench-context.js';
import { startBenchControlPlane } from './control-plane-client.js';
import { closedLoopLoad, type Sample } from './http-load.js';
import { percentile, round } from './percentiles.js';
import { splitService } from './route-files.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Benchmark 3: from the API's answer to a weight change until the proxy routes by it. A release flips between
 * 100/0 and 0/100 while 4 closed-loop clients keep the proxy busy; for each change, the time from the PATCH answer
 * until the first request after which no request went to the old version (an upper bound, to within one
 * request's interval), and every non-200 answer over the whole run is a failure.
 */
export async function configPropagationBenchmark(ctx: BenchContext): Promise<Omit<BenchmarkResult, 'seconds'>> {
  const changes = ctx.smoke ? 10 : 100;
  const upstreams = await startUpstreams(ctx, ['v1', 'v2']);
  const [a, b] = upstreams.addresses as [string, string];
  const cp = await startBenchControlPlane(ctx, 'propagation');
  const { routes: _routes, ...service } = splitService('reviews', a, b, [100, 0], true);
  await cp.call('POST', '/api/v1/services', service, 201);
  await cp.call(
    'POST',
    '/api/v1/releases',
    { name: 'reviews-canary', service: 'reviews', baseline: 'v1', candidate: { name: 'v2' }, traffic: { weights: { v1: 100, v2: 0 } } },
    201,
  );
  for (let i = 0; ; i++) {
    const r = (await cp.call('GET', '/api/v1/releases/reviews-canary', undefined)) as { status: { phase: string } };
    if (r.status.phase === 'Progressing') break;
    if (i > 200) throw new Error(`the release did not reach Progressing (phase ${r.status.phase})`);
    await sleep(25);
  }
  const proxy = await cp.startProxy(['--workers', '1']);
  const samples: Sample[] = [];
  const load = closedLoopLoad(`http://127.0.0.1:${proxy.port}`, 4, (s) => samples.push(s));
  const propagation: number[] = [];
  const raw: string[] = [];
  let timedOut = 0;
  try {
    // Until the proxy routes the first table (all to v1).
    for (let i = 0; !samples.some((s) => s.body === 'v1'); i++) {
      if (i > 400) throw new Error('the proxy never routed to v1');
      await sleep(10);
    }
    let target = 'v1';
    for (let i = 0; i < changes; i++) {
      target = target === 'v1' ? 'v2' : 'v1';
      const weights = target === 'v2' ? { v1: 0, v2: 100 } : { v1: 100, v2: 0 };
      const from = samples.length;
      await cp.call('PATCH', '/api/v1/releases/reviews-canary', { traffic: { weights } });
      const answeredAt = performance.now();
      // Wait until 20 requests sent after the answer came back from the new version (or 2 s).
      const deadline = answeredAt + 2000;
      for (;;) {
        let fresh = 0;
        for (let j = from; j < samples.length; j++) if (samples[j]!.sentAt > answeredAt && samples[j]!.body === target) fresh++;
        if (fresh >= 20) break;
        if (performance.now() > deadline) {
          timedOut++;
          break;
        }
        await sleep(2);
      }
      // Samples finish out of send order across the 4 clients: order this change's by send time.
      const window = samples.slice(from).sort((x, y) => x.sentAt - y.sentAt);
      let lastOld = -1;
      for (let j = 0; j < window.length; j++) if (window[j]!.status === 200 && window[j]!.body !== target) lastOld = j;
      const firstNew = window[lastOld + 1];
      const ms = firstNew === undefined ? 2000 : Math.max(0, firstNew.sentAt - answeredAt);
      propagation.push(ms);
      await sleep(10 + Math.random() * 20);
    }
  } finally {
    await load.stop();
  }
  const failed = samples.filter((s) => s.status !== 200).length;
  const sorted = [...propagation].sort((x, y) => x - y);
  raw.push(`propagation ms (sorted): ${sorted.map((x) => x.toFixed(2)).join(' ')}`);
  const seconds = (samples.at(-1)!.doneAt - samples[0]!.sentAt) / 1000;
  await proxy.process.stop();
  await cp.close();
  await upstreams.process.stop();
  return {
    id: 'config-propagation',
    title: '3. Config propagation (API answer -> proxy routes by it)',
    status: 'ok',
    figures: [
      atMost(`p99 over ${changes} changes`, round(percentile(sorted, 99)!), 10, 'ms'),
      info('p50', round(percentile(sorted, 50)!), 'ms'),
      info('max', round(sorted.at(-1)!), 'ms'),
      atMost('failed requests', failed, 0, '', {
        note: `of ${samples.length} requests (${(samples.length / seconds).toFixed(0)} req/s under load)`,
      }),
      atMost('changes not seen within 2 s', timedOut, 0, ''),
    ],
    notes: [
      'real control plane (SQLite, endpoints workloads) in its own process; `canary proxy --control-plane URL --workers 1` following its watch stream; 4 closed-loop keep-alive clients through the proxy.',
      'The control plane publishes the first change after a quiet spell at once (next turn of its event loop) and batches changes that follow a publish within 1 ms (RouteTableFeed.debounceMs).',
    ],
    raw,
  };
}
