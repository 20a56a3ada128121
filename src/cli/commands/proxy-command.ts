import type { Command } from 'commander';

// `canary proxy` is what runs on every host of a mesh, so its module imports nothing but commander: the proxy
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
  program
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
    .option('--otlp-endpoint <url>', 'also export spans over OTLP/HTTP JSON to this collector, e.g. http://127.0.0.1:4318')
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

Examples:
  canary proxy --config routes.yaml --listen 127.0.0.1:8000     # edits to the file apply live; SIGHUP reloads
  CANARY_TOKEN=... canary proxy --control-plane http://10.0.0.5:8080 --listen 0.0.0.0:8000

It keeps serving its last route table when the control plane is gone.`,
    )
    .action(async (opts: ProxyFlags) => {
      try {
        const { parseWorkers, runProxyWorkers } = (await import(
          '../../data-plane/proxy-workers.js'
        )) as typeof import('../../data-plane/proxy-workers.js');
        await runProxyWorkers({
          workers: parseWorkers(opts.workers),
          listen: opts.listen,
          ...(opts.config ? { config: opts.config } : {}),
          ...(opts.controlPlane ? { controlPlane: opts.controlPlane } : {}),
          ...(opts.token ? { token: opts.token } : {}),
          ...(opts.metricsPort !== undefined ? { metricsPort: port(opts.metricsPort, '--metrics-port') } : {}),
          ...(opts.traceSampling !== undefined ? { traceSampling: ratio(opts.traceSampling, '--trace-sampling') } : {}),
          ...(opts.otlpEndpoint ? { otlpEndpoint: opts.otlpEndpoint } : {}),
        });
      } catch (err) {
        process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      }
    });
}
