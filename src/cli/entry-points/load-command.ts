import type { Command } from 'commander';
import { reportError } from '../client-command.js';
import { fmtMs, fmtPct, positiveNumber } from '../commands/telemetry-commands.js';

/** `canary load URL`: a steady open-loop load, generated in this process (no control plane needed). */
export function registerLoadCommand(program: Command): void {
  program
    .command('load')
    .argument('<url>', 'the URL to GET, e.g. http://127.0.0.1:8000/productpage')
    .description('steady HTTP load (open loop) with a live line of rate, success and latency')
    .option('--rate <n>', 'requests per second', '2')
    .option('--duration <time>', 'stop after this long: 30s, 5m, 1h (default: until Ctrl-C)')
    .option('--header <name:value...>', 'extra request header(s)')
    .addHelpText(
      'after',
      '\nExamples:\n  canary load http://127.0.0.1:8000/productpage --rate 2          # the seed: a page every 0.5 s\n  canary load http://127.0.0.1:8000/productpage --rate 50 --duration 30s',
    )
    .action(async (url: string, opts: { rate: string; duration?: string; header?: string[] }) => {
      try {
        const { TrafficGenerator, parseDuration } = await import('../../telemetry/traffic-generator.js');
        const headers: Record<string, string> = {};
        for (const h of opts.header ?? []) {
          const colon = h.indexOf(':');
          if (colon <= 0) throw new Error(`--header: must be NAME:VALUE, got "${h}"`);
          headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
        }
        const g = new TrafficGenerator({
          url,
          rate: positiveNumber(opts.rate, '--rate'),
          ...(opts.duration ? { durationMs: parseDuration(opts.duration, '--duration') } : {}),
          headers,
        });
        const tty = process.stdout.isTTY === true;
        const line = () => {
          const w = g.window();
          const codes = Object.entries(w.statuses)
            .map(([c, n]) => `${c}:${n}`)
            .join(' ');
          return `${w.rate.toFixed(1)} req/s  success ${fmtPct(w.successRate)}  p50 ${fmtMs(w.latencyMs.p50)}  p95 ${fmtMs(w.latencyMs.p95)}  p99 ${fmtMs(w.latencyMs.p99)}  ${codes}${w.errors ? `  errors:${w.errors}` : ''}`;
        };
        process.stdout.write(`load: GET ${url} at ${opts.rate}/s${opts.duration ? ` for ${opts.duration}` : ' (Ctrl-C to stop)'}\n`);
        g.start();
        const timer = setInterval(() => process.stdout.write(tty ? `\r\x1b[2K${line()}` : `${line()}\n`), 1000);
        process.once('SIGINT', () => void g.stop());
        await g.finished();
        clearInterval(timer);
        const s = g.stats();
        process.stdout.write(
          `${tty ? '\n' : ''}done: ${s.completed} requests in ${(s.elapsedMs / 1000).toFixed(1)}s, ${s.rate.toFixed(1)} req/s, success ${fmtPct(s.successRate)}, ` +
            `p50 ${fmtMs(s.latencyMs.p50)} p95 ${fmtMs(s.latencyMs.p95)} p99 ${fmtMs(s.latencyMs.p99)}, ${s.errors} connection errors\n`,
        );
        if (s.completed > 0 && s.ok === 0) process.exitCode = 1;
      } catch (err) {
        reportError(err);
      }
    });
}
