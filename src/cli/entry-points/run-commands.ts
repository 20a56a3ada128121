import { type Command, Option } from 'commander';
import {
  type UpConfig,
  type UpConfigInput,
  readUpConfigFile,
  resolveUpConfig,
  UP_DEFAULTS,
  upOptions,
} from '../../control-plane/up-config.js';
import { CONTROL_PLANE_DEFAULTS } from '../../control-plane/control-plane-config.js';
import { helpWithDefault, PROXY_FLAGS, type ProxyTuningKey } from '../../data-plane/proxy-settings.js';
import { reportError } from '../client-command.js';
import { addLimitOptions, limitsFromFlags, port, ratio, registerProxyCommand, wholeNumber } from './proxy-command.js';

interface UpFlags {
  config?: string;
  demo?: string;
  data?: string;
  port?: string;
  ingressPort?: string;
  host?: string;
  traceSampling?: string;
  otlpEndpoint?: string;
  runAs?: string;
  orphanGrace?: string;
  drainGrace?: string;
  kubernetes?: boolean;
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  traffic?: 'istio' | 'gateway-api';
  gateway?: string;
  gatewayHosts?: string;
  adopt?: boolean;
  prometheus?: string;
  tracing?: string;
  allowedHosts?: string;
}

/** `--allowed-hosts a.example,.corp.example` -> the names (the schema checks each). */
export function allowedHostsFlag(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h.length > 0);
}

/** A number flag (seconds, a ratio); its range is the schema's to check. */
function numberFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`${flag}: must be a number, got "${value}"`);
  return n;
}

/** The flags given, as keys of the `up` schema (up-config.ts); unset flags stay unset so the file's values apply. */
export function upConfigFromFlags(opts: UpFlags & Record<string, unknown>): UpConfigInput {
  const tuning = limitsFromFlags(opts);
  return {
    data: opts.data,
    host: opts.host,
    port: opts.port === undefined ? undefined : port(opts.port, '--port'),
    ingressPort: opts.ingressPort === undefined ? undefined : port(opts.ingressPort, '--ingress-port'),
    allowedHosts: allowedHostsFlag(opts.allowedHosts),
    demo: opts.demo as UpConfigInput['demo'],
    traceSampling: opts.traceSampling === undefined ? undefined : ratio(opts.traceSampling, '--trace-sampling'),
    otlpEndpoint: opts.otlpEndpoint,
    runAs: opts.runAs,
    orphanGrace: numberFlag(opts.orphanGrace, '--orphan-grace'),
    drainGraceMs: opts.drainGrace === undefined ? undefined : wholeNumber(opts.drainGrace, '--drain-grace'),
    proxy: Object.keys(tuning).length > 0 ? tuning : undefined,
    kubernetes: opts.kubernetes,
    kubeconfig: opts.kubeconfig,
    context: opts.context,
    namespace: opts.namespace,
    traffic: opts.traffic,
    gateway: opts.gateway,
    gatewayHosts:
      opts.gatewayHosts === undefined
        ? undefined
        : opts.gatewayHosts
            .split(',')
            .map((h) => h.trim())
            .filter(Boolean),
    adopt: opts.adopt,
    prometheus: opts.prometheus,
    tracing: opts.tracing,
  };
}

/** `--config FILE` and the flags, merged (a flag beats the file) and checked: every key's problem named, nothing started. */
export function resolveUpFlags(opts: UpFlags & Record<string, unknown>): UpConfig {
  const fromFile = opts.config === undefined ? {} : readUpConfigFile(opts.config);
  return resolveUpConfig(fromFile, upConfigFromFlags(opts), upFlagOf);
}

/** The flag of a key of the `up` schema: `ingressPort` -> `--ingress-port`, `proxy.maxConnections` -> `--max-connections`. */
function upFlagOf(path: readonly PropertyKey[]): string | undefined {
  const [key, sub] = path;
  if (key === 'proxy') return sub === undefined ? undefined : PROXY_FLAGS[sub as ProxyTuningKey]?.flag.split(' ')[0];
  if (key === 'drainGraceMs') return '--drain-grace';
  return typeof key === 'string' ? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : undefined;
}

/** The help of an `up` key: its description with the schema's default. */
const upHelp = (help: string, key: keyof UpConfig) => helpWithDefault(help, UP_DEFAULTS[key]);

/** `canary up --kubernetes ...`: the control plane against a cluster (no local proxy, no local workloads). */
async function upOnCluster(config: UpConfig): Promise<void> {
  const { runClusterUp } = (await import('../../control-plane/cluster-mode.js')) as typeof import('../../control-plane/cluster-mode.js');
  await runClusterUp({
    dataDir: config.data,
    host: config.host,
    port: config.port,
    drainGraceMs: config.drainGraceMs,
    ...(config.allowedHosts ? { allowedHosts: config.allowedHosts } : {}),
    ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}),
    ...(config.context ? { context: config.context } : {}),
    ...(config.namespace ? { namespace: config.namespace } : {}),
    ...(config.traffic ? { traffic: config.traffic } : {}),
    ...(config.gateway ? { gateway: config.gateway } : {}),
    ...(config.gatewayHosts ? { gatewayHosts: config.gatewayHosts } : {}),
    ...(config.adopt ? { adopt: true } : {}),
    ...(config.prometheus ? { prometheus: config.prometheus } : {}),
    ...(config.tracing ? { tracing: config.tracing } : {}),
  });
}

/** `canary up` and `canary proxy`: the servers. Their modules load only when run, so one missing part breaks only its command. */
export function registerRunCommands(program: Command): void {
  const up = program
    .command('up')
    .description('start everything on this machine: control plane + console, mesh proxy, workloads (and a demo)')
    .option('--config <file>', 'YAML file of the keys below (docs/configuration.md); a flag given beats the file')
    .option('--demo <name>', 'also register a demo application: bookinfo')
    .option('--data <dir>', upHelp('data directory (SQLite, admin token, logs)', 'data'))
    .option('--port <port>', upHelp('control plane and console port', 'port'))
    .option('--ingress-port <port>', upHelp('mesh ingress port', 'ingressPort'))
    .option('--host <host>', upHelp('address to bind; anything beyond loopback exposes the API to the network', 'host'))
    .option(
      '--allowed-hosts <names>',
      'comma-separated host names the API and console answer to besides localhost, 127.0.0.1, ::1 and --host (".example.com": it and any subdomain); other Host headers get 421',
    )
    .option(
      '--trace-sampling <ratio>',
      `share of new traces sampled, 0..1 (default: 1 with --demo, else ${CONTROL_PLANE_DEFAULTS.telemetry.traceSampling})`,
    )
    .option(
      '--otlp-endpoint <url>',
      'also export spans over OTLP/HTTP JSON to this collector, e.g. http://127.0.0.1:4318 (env CANARY_OTLP_ENDPOINT)',
    )
    .option('--run-as <user>', upHelp('when started as root: the user process workloads run as; no effect otherwise', 'runAs'))
    .option(
      '--orphan-grace <seconds>',
      upHelp(
        'if this process is killed (SIGKILL), how long its proxy and workloads keep serving for a new canary up on the same --data to take over',
        'orphanGrace',
      ),
    )
    .option(
      '--drain-grace <ms>',
      upHelp('finishing a release waits this long between routing to the kept version and retiring the other', 'drainGraceMs'),
    )
    .option('--kubernetes', 'run against a Kubernetes + Istio cluster: versions are Deployments, Envoy routes (no local proxy)')
    .option('--kubeconfig <file>', 'with --kubernetes: kubeconfig file (default $KUBECONFIG, ~/.kube/config, else in-cluster)')
    .option('--context <name>', "with --kubernetes: kubeconfig context (default: the file's current-context)")
    .option('--namespace <ns>', "with --kubernetes: namespace of the services (default: the context's, else default)")
    .addOption(new Option('--traffic <mode>', 'with --kubernetes: routing objects (default istio)').choices(['istio', 'gateway-api']))
    .option(
      '--gateway <ns/name>',
      'with --kubernetes: the Gateway traffic enters through; istio: VirtualServices bind to it and to the mesh (default: mesh only); gateway-api: parent of the HTTPRoutes (default: the Service, GAMMA)',
    )
    .option('--gateway-hosts <hosts>', 'with --gateway and istio: host names requests carry through the gateway, comma-separated')
    .option(
      '--adopt',
      'with --kubernetes: take over routing objects Canary Mesh did not create; delete retired Deployments it did not create',
    )
    .option('--prometheus <url>', 'with --kubernetes: Prometheus scraping Istio metrics, for observed shares and topology')
    .option('--tracing <url>', 'with --kubernetes: Jaeger query URL (or Tempo), for traces');
  // The local proxy's limits, passed on to it as they are (see `canary proxy --help`).
  addLimitOptions(up)
    .addHelpText(
      'after',
      `
Examples:
  canary up --demo bookinfo          # console http://127.0.0.1:8080, product page http://127.0.0.1:8000/productpage
  canary up --data /var/lib/canary --port 9090 --ingress-port 9000
  canary up --kubernetes --context kind-canary --namespace default --data .canary-cluster \\
      --prometheus http://localhost:9090 --tracing http://localhost:16686    # see docs/kubernetes.md

The first start writes an admin token to <data>/admin-token (mode 0600); the console asks for it and the CLI
reads it from there (or from CANARY_TOKEN). CANARY_ADMIN_TOKEN sets it instead. \`canary token create\` makes
tokens with less power (viewer, operator). The API answers only to its own host names: reached by another name
(a load balancer, a DNS name), list it with --allowed-hosts. Ctrl-C stops everything. See docs/security.md.
Started as root, process workloads run as --run-as (default nobody), each in its own directory under the
OS temp dir: their commands and scripts must be readable by that user (docs/operations.md).`,
    )
    .action(async (opts: UpFlags & Record<string, unknown>) => {
      try {
        // Everything is checked before anything starts: a bad flag or file key is named, and nothing runs.
        const config = resolveUpFlags(opts);
        if (config.kubernetes) return await upOnCluster(config);
        const { runUp } = (await import('../../control-plane/up.js')) as typeof import('../../control-plane/up.js');
        await runUp(upOptions(config));
      } catch (err) {
        reportError(err);
        process.exit(1);
      }
    });

  registerProxyCommand(program);
}
