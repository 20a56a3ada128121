import type { Command } from 'commander';
import type { ErrorDetail } from '../../core/errors.js';
import { checkProxyLimits } from '../../data-plane/proxy-settings.js';

// `canary proxy` is what runs on every host of a mesh, so its module imports nothing but commander and the proxy's
// hand-checked settings (no zod): the proxy
// process stays free of the client's modules (yaml, the API client) and of the core's zod schemas
// (docs/adr/0006-lean-proxy-process.md). src/cli/main.ts loads only this command when argv asks for it.

/** A port flag: 0..65535. */
export function port(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag}: must be a port number 0..65535, got "${value}"`);
  return n;
}

/** A ratio flag: 0..1. */
export function ratio(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 1)) throw new Error(`${flag}: must be a number from 0 to 1 (0.01 = 1%), got "${value}"`);
  return n;
}

/** A whole-number flag (ms, bytes, connections); its range is checked with the proxy's settings. */
export function wholeNumber(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new Error(`${flag}: must be a whole number, got "${value}"`);
  return n;
}

/**
 * The limit and timeout flags of `canary proxy` (and of `canary up`, which passes them to its proxy): flag, key of
 * the proxy's settings (the static file's `proxy:` block uses the same keys), help. Defaults: docs/proxy.md.
 */
export const LIMIT_FLAGS = [
  ['--header-timeout <ms>', 'headerTimeoutMs', 'time to receive a request head, else 408 and close (default 10000)'],
  ['--idle-timeout <ms>', 'idleTimeoutMs', 'keep-alive client connections idle this long are closed (default 65000)'],
  [
    '--send-timeout <ms>',
    'sendTimeoutMs',
    'a client taking no byte of its answer this long is cut, freeing its upstream connection (default 30000)',
  ],
  ['--queue-timeout <ms>', 'queueTimeoutMs', 'a request waiting this long for a free upstream connection gets 503 (default 10000)'],
  ['--max-connections <n>', 'maxConnections', 'client connections per proxy process; beyond it new ones get 503 (default 10000)'],
  ['--max-head-bytes <n>', 'maxHeadBytes', 'largest request head, else 431 (default 16384)'],
  ['--max-target-bytes <n>', 'maxTargetBytes', 'longest request target, else 414 (default 8192)'],
  ['--upstream-timeout <ms>', 'upstreamTimeoutMs', 'time an upstream has to answer (and between body chunks), else 504 (default 15000)'],
] as const;

type LimitKey = (typeof LIMIT_FLAGS)[number][1];

/** Commander's option name of a flag: `--header-timeout <ms>` -> `headerTimeout`. */
function optionName(flag: string): string {
  return flag.slice(2, flag.indexOf(' ')).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The limit flags given, as settings (`{ headerTimeoutMs: 2000 }`); throws naming the flag when one is out of range. */
export function limitsFromFlags(opts: Record<string, unknown>): Partial<Record<LimitKey, number>> {
  const limits: Partial<Record<LimitKey, number>> = {};
  const flagOf = new Map<string, string>();
  for (const [flag, key] of LIMIT_FLAGS) {
    const name = flag.slice(0, flag.indexOf(' '));
    flagOf.set(key, name);
    const v = opts[optionName(flag)];
    if (typeof v === 'string') limits[key] = wholeNumber(v, name);
  }
  const problems: ErrorDetail[] = [];
  checkProxyLimits(limits, '', problems);
  if (limits.upstreamTimeoutMs === 0) problems.push({ path: 'upstreamTimeoutMs', message: 'must be a positive whole number of ms' });
  if (problems.length > 0) throw new Error(problems.map((p) => `${flagOf.get(p.path) ?? p.path}: ${p.message}`).join('; '));
  return limits;
}

/** The limit flags given, as arguments again (`canary up` passes them on to its proxy process). */
export function limitArgs(opts: Record<string, unknown>): string[] {
  const args: string[] = [];
  for (const [flag] of LIMIT_FLAGS) {
    const v = opts[optionName(flag)];
    if (typeof v === 'string') args.push(flag.slice(0, flag.indexOf(' ')), v);
  }
  return args;
}

/** Adds the limit flags to a command. */
export function addLimitOptions(command: Command): Command {
  for (const [flag, , help] of LIMIT_FLAGS) command.option(flag, help);
  return command;
}

interface ProxyFlags {
  config?: string;
  listen: string;
  controlPlane?: string;
  token?: string;
  workers: string;
  metricsPort?: string;
  traceSampling?: string;
  otlpEndpoint?: string;
}

/** `canary proxy`: a standalone data plane. */
export function registerProxyCommand(program: Command): void {
  const command = program
    .command('proxy')
    .description('run a standalone mesh proxy (data plane): from a static route file or following a control plane')
    .option('--config <file>', 'static route file (YAML, the API shapes: services with versions and routes)')
    .option('--listen <host:port>', 'ingress address', '127.0.0.1:8000')
    .option('--control-plane <url>', 'follow this control plane instead of a file')
    .option('--token <token>', 'bearer token for the control plane (env CANARY_TOKEN)')
    .option(
      '--workers <n>',
      'proxy processes sharing the listeners (node:cluster), each following the route source; "auto" (the default): one per core',
      'auto',
    )
    .option('--metrics-port <port>', 'serve Prometheus /metrics (Istio names) on this port of the ingress host')
    .option('--trace-sampling <ratio>', "share of new traces sampled, 0..1 (default: the control plane's, else 0.01)")
    .option('--otlp-endpoint <url>', 'also export spans over OTLP/HTTP JSON to this collector, e.g. http://127.0.0.1:4318');
  addLimitOptions(command)
    .addHelpText(
      'after',
      `
A static file:
  services:
    - name: reviews
      port: 9080
      ingress: { paths: ["/"] }
      versions:
        - { name: v1, workload: { kind: endpoints, addresses: ["127.0.0.1:18081"] } }
        - { name: v2, workload: { kind: endpoints, addresses: ["127.0.0.1:18082"] } }
      routes:
        - route: [ { version: v1, weight: 50 }, { version: v2, weight: 50 } ]
  proxy:                      # optional: limits (the flags above win), applied again when the file changes
    headerTimeoutMs: 10000
    maxConnections: 10000

Examples:
  canary proxy --config routes.yaml --listen 127.0.0.1:8000     # edits to the file apply live; SIGHUP reloads
  CANARY_TOKEN=... canary proxy --control-plane http://10.0.0.5:8080 --listen 0.0.0.0:8000

It keeps serving its last route table when the control plane is gone.`,
    )
    .action(async (opts: ProxyFlags & Record<string, unknown>) => {
      try {
        const limits = limitsFromFlags(opts);
        const { parseWorkers, runProxyWorkers } = (await import(
          '../../data-plane/proxy-workers.js'
        )) as typeof import('../../data-plane/proxy-workers.js');
        // The static file's parser and compiler run in a child process (src/route-file), never in the proxy's.
        const { compileRouteFile } = (await import(
          '../../route-file/compile-route-file.js'
        )) as typeof import('../../route-file/compile-route-file.js');
        await runProxyWorkers({
          workers: parseWorkers(opts.workers),
          compileRouteFile,
          listen: opts.listen,
          ...(opts.config ? { config: opts.config } : {}),
          ...(opts.controlPlane ? { controlPlane: opts.controlPlane } : {}),
          ...(opts.token ? { token: opts.token } : {}),
          ...(opts.metricsPort !== undefined ? { metricsPort: port(opts.metricsPort, '--metrics-port') } : {}),
          ...(opts.traceSampling !== undefined ? { traceSampling: ratio(opts.traceSampling, '--trace-sampling') } : {}),
          ...(opts.otlpEndpoint ? { otlpEndpoint: opts.otlpEndpoint } : {}),
          ...limits,
        });
      } catch (err) {
        process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      }
    });
}
