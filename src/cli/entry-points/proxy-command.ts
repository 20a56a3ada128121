import type { Command } from 'commander';
import type { ErrorDetail } from '../../core/errors.js';
import {
  checkProxyLimits,
  DEFAULT_PROXY_SETTINGS,
  helpWithDefault,
  PROXY_FLAGS,
  PROXY_TUNING_KEYS,
  type ProxyFlag,
  type ProxyTuningKey,
  UPSTREAM_TIMEOUT_RANGE,
} from '../../data-plane/proxy-settings.js';

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

/** Commander's option name of a flag: `--header-timeout <ms>` -> `headerTimeout`. */
function optionName(flag: string): string {
  return flag.slice(2, flag.indexOf(' ')).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

const bareFlag = (flag: string): string => flag.slice(0, flag.indexOf(' '));

/** Adds a setting's flag to a command, its help ending with the schema's default (none given to commander, so an
 * unset flag stays unset and a config file's value can apply). */
export function addSettingOption(command: Command, { flag, help, env }: ProxyFlag, defaultValue?: unknown): Command {
  return command.option(flag, helpWithDefault(env ? `${help} (env ${env})` : help, defaultValue));
}

/** The limit and timeout flags given, as settings (`{ headerTimeoutMs: 2000 }`); throws naming the flag when one is out of range. */
export function limitsFromFlags(opts: Record<string, unknown>): Partial<Record<ProxyTuningKey, number>> {
  const limits: Partial<Record<ProxyTuningKey, number>> = {};
  const flagOf = new Map<string, string>();
  for (const key of PROXY_TUNING_KEYS) {
    const name = bareFlag(PROXY_FLAGS[key].flag);
    flagOf.set(key, name);
    const v = opts[optionName(PROXY_FLAGS[key].flag)];
    if (typeof v === 'string') limits[key] = wholeNumber(v, name);
  }
  const problems: ErrorDetail[] = [];
  checkProxyLimits(limits, '', problems);
  const [min, max] = UPSTREAM_TIMEOUT_RANGE;
  const timeout = limits.upstreamTimeoutMs;
  if (timeout !== undefined && (timeout < min || timeout > max)) {
    problems.push({ path: 'upstreamTimeoutMs', message: `must be a whole number of ms from ${min} to ${max}, got ${timeout}` });
  }
  if (problems.length > 0) throw new Error(problems.map((p) => `${flagOf.get(p.path) ?? p.path}: ${p.message}`).join('; '));
  return limits;
}

/** Adds the limit and timeout flags to a command, each with its default. */
export function addLimitOptions(command: Command): Command {
  for (const key of PROXY_TUNING_KEYS) addSettingOption(command, PROXY_FLAGS[key], DEFAULT_PROXY_SETTINGS[key]);
  return command;
}

interface ProxyFlags {
  config?: string;
  listen?: string;
  controlPlane?: string;
  token?: string;
  workers?: string;
  metricsPort?: string;
  traceSampling?: string;
  otlpEndpoint?: string;
}

/** `canary proxy`: a standalone data plane. */
export function registerProxyCommand(program: Command): void {
  const command = program
    .command('proxy')
    .description('run a standalone mesh proxy (data plane): from a static route file or following a control plane');
  for (const key of ['config', 'listen', 'controlPlane', 'token', 'workers', 'metricsPort', 'traceSampling', 'otlpEndpoint'] as const) {
    addSettingOption(
      command,
      PROXY_FLAGS[key],
      key === 'listen' || key === 'workers' || key === 'traceSampling' ? DEFAULT_PROXY_SETTINGS[key] : undefined,
    );
  }
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
          workers: parseWorkers(opts.workers ?? DEFAULT_PROXY_SETTINGS.workers),
          compileRouteFile,
          ...(opts.listen ? { listen: opts.listen } : {}),
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
