import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type BenchmarkResult, info } from './bench-report.js';
import { type BenchContext, startProxy, startUpstreams } from './bench-context.js';
import { summariseCpuProfile } from './cpu-profile-summary.js';
import { closedLoopLoad } from './http-load.js';
import { peersToolsMissing } from './peers-script.js';
import { splitService, writeRouteFile } from './route-files.js';

const run = promisify(execFile);

/**
 * Benchmark 8: a CPU profile (`node --cpu-prof`) of one proxy process under saturating load (wrk -t1 -c32 when
 * installed, else 32 closed-loop clients in the bench process), summarised by category and by function. With
 * `keepDir` the .cpuprofile is copied there (open it in Chrome DevTools).
 */
export async function cpuProfileBenchmark(ctx: BenchContext, keepDir?: string): Promise<Omit<BenchmarkResult, 'seconds'>> {
  const seconds = ctx.smoke ? 2 : 8;
  const upstreams = await startUpstreams(ctx, ['v1', 'v2']);
  const [a, b] = upstreams.addresses as [string, string];
  const config = writeRouteFile(ctx.workDir, 'profile.yaml', [splitService('reviews', a, b, [50, 50], true)]);
  const profDir = join(ctx.workDir, 'cpu-profile');
  mkdirSync(profDir, { recursive: true });
  const proxy = await startProxy(ctx, ['--config', config, '--workers', '1'], { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profDir] });
  const url = `http://127.0.0.1:${proxy.port}/`;
  let load: string;
  let rps = 0;
  if (!peersToolsMissing().includes('wrk')) {
    const { stdout } = await run('wrk', ['-t1', '-c32', `-d${seconds}s`, url], { timeout: (seconds + 30) * 1000 });
    rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
    load = `wrk -t1 -c32 -d${seconds}s`;
  } else {
    let n = 0;
    const l = closedLoopLoad(url.slice(0, -1), 32, () => n++);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    await l.stop();
    rps = n / seconds;
    load = '32 closed-loop clients (wrk not installed)';
  }
  const code = await proxy.process.stop(15_000);
  await upstreams.process.stop();
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written (proxy exit ${code}):\n${proxy.process.output().slice(-1000)}`);
  const summary = summariseCpuProfile(join(profDir, file));
  if (keepDir) {
    mkdirSync(keepDir, { recursive: true });
    copyFileSync(join(profDir, file), join(keepDir, 'proxy.cpuprofile'));
  }
  const raw = [
    `profile: ${summary.totalMs} ms sampled; load ${load}: ${rps.toFixed(0)} req/s`,
    'self time by category:',
    ...summary.categories.map((c) => `  ${c.share.toFixed(1).padStart(5)}%  ${String(c.ms).padStart(6)} ms  ${c.name}`),
    'busiest functions (self time):',
    ...summary.functions.map((f) => `  ${f.share.toFixed(1).padStart(5)}%  ${String(f.ms).padStart(6)} ms  ${f.name}  ${f.where}`),
  ];
  const share = (name: string) => summary.categories.find((c) => c.name === name)?.share ?? 0;
  return {
    id: 'cpu-profile',
    title: '8. CPU profile of the proxy under load',
    status: 'ok',
    figures: [
      info('req/s while profiled', Math.round(rps), 'req/s'),
      info(
        'our data plane + core, self time',
        Math.round((share('canary data plane (ours)') + share('canary core (matchers)')) * 10) / 10,
        '%',
      ),
      info('undici, self time', share('undici (upstream client)'), '%'),
      info(
        'node http + net + streams, self time',
        Math.round((share('node http (server, outgoing)') + share('node net / socket writes') + share('node streams')) * 10) / 10,
        '%',
      ),
      info('native (syscalls, builtins), self time', share('native (syscalls, builtins)'), '%'),
      info('garbage collector', share('garbage collector'), '%'),
      info('idle', share('idle'), '%'),
    ],
    notes: [
      `node --cpu-prof bin/canary.js proxy --workers 1, 50/50 split over two Node upstreams; load: ${load}. See docs/adr/0003-proxy-hot-path.md.`,
    ],
    raw,
  };
}
