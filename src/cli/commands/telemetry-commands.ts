import { type Command, Option } from 'commander';
import type { Topology, TopologyEdge, TopologyNode, TraceSummary, StoredSpan } from '../api-types.js';
import { addClientOptions, clientAction } from '../client-command.js';
import { formatTable, printResult } from '../output.js';

export const fmtMs = (v: number | null | undefined) =>
  v === null || v === undefined ? '-' : v < 10 ? `${v.toFixed(2)}ms` : `${v.toFixed(1)}ms`;
export const fmtPct = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${(v * 100).toFixed(1)}%`);
const fmtRate = (v: number) => v.toFixed(2);

function nodeLabel(id: string): string {
  return id.replace(':', ' ');
}

/** The topology as two tables: versions (and the ingress) with what they receive, then the calls between them. */
export function topologyText(t: Topology): string {
  const nodeRows = t.nodes
    .filter((n: TopologyNode) => n.type === 'version' || n.type === 'unknown')
    .map((n) => [
      nodeLabel(n.id),
      fmtRate(n.requestRate),
      fmtPct(n.successRate),
      fmtMs(n.latencyMs.p50),
      fmtMs(n.latencyMs.p95),
      fmtMs(n.latencyMs.p99),
    ]);
  const edgeRows = t.edges.map((e: TopologyEdge) => [
    `${nodeLabel(e.source)} -> ${nodeLabel(e.target)}`,
    fmtRate(e.requestRate),
    fmtPct(e.successRate),
    fmtMs(e.latencyMs.p50),
    fmtMs(e.latencyMs.p95),
    fmtMs(e.latencyMs.p99),
    e.share === null ? '-' : `${Math.round(e.share * 100)}%`,
    `${e.responses['2xx']}/${e.responses['3xx']}/${e.responses['4xx']}/${e.responses['5xx']}`,
  ]);
  const parts = [
    `Last ${t.window}s at ${t.generatedAt.replace(/\.\d+Z$/, 'Z')}`,
    '',
    formatTable(['VERSION', 'REQ/S', 'SUCCESS', 'P50', 'P95', 'P99'], nodeRows),
    '',
    edgeRows.length > 0
      ? formatTable(['CALL', 'REQ/S', 'SUCCESS', 'P50', 'P95', 'P99', 'SHARE', '2xx/3xx/4xx/5xx'], edgeRows)
      : 'No traffic in this window. Send some: canary load http://127.0.0.1:8000/productpage --rate 2',
  ];
  for (const r of t.releases) {
    const shares = Object.entries(r.observed)
      .map(([v, s]) => `${v} ${Math.round(s * 100)}%`)
      .join(', ');
    parts.push('', `Release ${r.name} (${r.service}): observed ${shares || '-'} of ${r.requests} requests`);
  }
  return parts.join('\n');
}

/** A text waterfall: one line per span in tree order, indented by depth, with a bar placed on the trace's time axis. */
export function traceWaterfall(trace: { traceId: string; spans: StoredSpan[] }, width = 40): string {
  const spans = trace.spans;
  if (spans.length === 0) return `Trace ${trace.traceId}: no spans`;
  const start = Math.min(...spans.map((s) => s.startTime));
  const end = Math.max(...spans.map((s) => s.startTime + s.durationMs));
  const total = Math.max(end - start, 0.001);
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const depth = (s: StoredSpan): number => {
    let d = 0;
    let p = s.parentSpanId === null ? undefined : byId.get(s.parentSpanId);
    while (p !== undefined && d < 64) {
      d++;
      p = p.parentSpanId === null ? undefined : byId.get(p.parentSpanId);
    }
    return d;
  };
  const rows = spans.map((s) => {
    const from = Math.min(width - 1, Math.floor(((s.startTime - start) / total) * width));
    const len = Math.max(1, Math.round((s.durationMs / total) * width));
    const bar = `${' '.repeat(from)}${'█'.repeat(Math.min(len, width - from))}`.padEnd(width);
    const who = `${'  '.repeat(depth(s))}${s.service}${s.version ? ` ${s.version}` : ''} ${s.kind}`;
    const flags = [
      s.error ? 'ERROR' : '',
      s.retried ? 'retried' : '',
      s.mirrored ? 'mirrored' : '',
      s.responseFlags !== '-' ? s.responseFlags : '',
    ]
      .filter(Boolean)
      .join(' ');
    return [who, s.name, `|${bar}|`, fmtMs(s.durationMs), String(s.statusCode), `${s.instance} pid ${s.pid}@${s.host}`, flags];
  });
  const services = new Set(spans.map((s) => s.service)).size;
  return `Trace ${trace.traceId}: ${spans.length} spans, ${services} services, ${fmtMs(total)}, started ${new Date(start).toISOString()}\n\n${formatTable(
    ['SPAN', 'OPERATION', `0 .. ${fmtMs(total)}`, 'DURATION', 'STATUS', 'WHERE', 'FLAGS'],
    rows,
  )}`;
}

export function positiveNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${flag}: must be a positive number, got "${value}"`);
  return n;
}

/** `canary top`, `canary traces`, `canary trace ID`, `canary load URL`. */
export function registerTelemetryCommands(program: Command): void {
  addClientOptions(
    program
      .command('top')
      .description('live topology: request rate, success rate and latency per version and per call (refreshes every 2 s)')
      .option('--window <seconds>', 'window of the figures, in seconds', '60')
      .option('--once', 'print once and exit (the default when stdout is not a terminal)'),
  )
    .addHelpText(
      'after',
      "\nExamples:\n  canary top\n  canary top --window 10 --once\n  canary top -o json --once   # the API's topology object",
    )
    .action(
      clientAction(async ({ api, output }, opts: { window: string; once?: boolean }) => {
        const window = Math.round(positiveNumber(opts.window, '--window'));
        const fetchOnce = () => api.get<Topology>('/api/v1/topology', { query: { window } });
        if (opts.once || output !== 'table' || !process.stdout.isTTY) {
          const t = await fetchOnce();
          printResult(output, t, () => topologyText(t));
          return;
        }
        let stop = false;
        process.once('SIGINT', () => {
          stop = true;
        });
        while (!stop) {
          const t = await fetchOnce();
          process.stdout.write(`\x1b[H\x1b[2J${topologyText(t)}\n\n(Ctrl-C to quit)\n`);
          await new Promise((r) => setTimeout(r, 2000));
        }
      }),
    );

  addClientOptions(
    program
      .command('traces')
      .description('recent traces, newest first')
      .option('--service <name>', 'only traces through this service')
      .option('--operation <name>', 'only traces with a span of this operation, e.g. "GET /reviews/0"')
      .option('--min-duration <ms>', 'only traces at least this long (ms)')
      .option('--errors', 'only traces with a failed span')
      .option('--since <time>', 'started after: ISO time, epoch ms, or an age like 15m')
      .addOption(new Option('--limit <n>', 'at most this many').default('20')),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  canary traces --service reviews --min-duration 50\n  canary traces --errors --since 15m\n  canary trace <TRACE ID>',
    )
    .action(
      clientAction(
        async (
          { api, output },
          opts: { service?: string; operation?: string; minDuration?: string; errors?: boolean; since?: string; limit: string },
        ) => {
          const res = await api.get<{ traces: TraceSummary[] }>('/api/v1/traces', {
            query: {
              service: opts.service,
              operation: opts.operation,
              minDurationMs: opts.minDuration,
              errors: opts.errors ? 'true' : undefined,
              since: opts.since,
              limit: opts.limit,
            },
          });
          printResult(output, res, () =>
            res.traces.length === 0
              ? 'No traces. The demo samples every request; elsewhere 1% are sampled (send a traceparent with flag 01 to force one).'
              : formatTable(
                  ['TRACE ID', 'ROOT', 'OPERATION', 'START', 'DURATION', 'SPANS', 'ERRORS', 'SERVICES'],
                  res.traces.map((t) => [
                    t.traceId,
                    t.rootService,
                    t.rootOperation,
                    t.startTime.replace(/\.\d+Z$/, 'Z'),
                    fmtMs(t.durationMs),
                    String(t.spanCount),
                    String(t.errors),
                    t.services.join(','),
                  ]),
                ),
          );
        },
      ),
    );

  addClientOptions(
    program
      .command('trace')
      .argument('<trace-id>', '32 hex digits, from canary traces')
      .description('one trace as a text waterfall of its spans'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  canary trace 4bf92f3577b34da6a3ce929d0e0e4736\n  canary trace 4bf92f3577b34da6a3ce929d0e0e4736 -o json',
    )
    .action(
      clientAction(async ({ api, output }, traceId: string) => {
        const t = await api.get<{ traceId: string; spans: StoredSpan[] }>(`/api/v1/traces/${encodeURIComponent(traceId)}`);
        printResult(output, t, () => traceWaterfall(t));
      }),
    );
}
