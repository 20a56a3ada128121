import { type Command, Option } from 'commander';
import { reportError } from '../client-command.js';
import { addLimitOptions, limitArgs, limitsFromFlags, port, ratio, registerProxyCommand } from './proxy-command.js';

interface UpFlags {
  demo?: string;
  data: string;
  port: string;
  ingressPort: string;
  host: string;
  traceSampling?: string;
  otlpEndpoint?: string;
  runAs?: string;
  orphanGrace?: string;
  kubernetes?: boolean;
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  traffic?: 'istio' | 'gateway-api';
  gateway?: string;
  adopt?: boolean;
  prometheus?: string;
  tracing?: string;
  allowedHosts?: string;
}

/** Flags that only mean something with --kubernetes, and those that mean nothing with it. */
const CLUSTER_FLAGS = ['kubeconfig', 'context', 'namespace', 'traffic', 'gateway', 'adopt', 'prometheus', 'tracing'] as const;
const LOCAL_FLAGS = ['demo', 'traceSampling', 'otlpEndpoint', 'runAs', 'orphanGrace'] as const;
const flagName = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** `--allowed-hosts a.example,.corp.example` -> the names, checked. */
export function allowedHostsFlag(value: string | undefined): { allowedHosts?: string[] } {
  if (value === undefined) return {};
  const hosts = value
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h.length > 0);
  for (const h of hosts) {
    if (!/^\.?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?$|^\[?[0-9A-Fa-f:.]+\]?$/.test(h)) {
      throw new Error(
        `--allowed-hosts: "${h}" is not a host name or address (write names without scheme or port, e.g. canary.example.com,.corp.example)`,
      );
    }
  }
  if (hosts.length === 0) throw new Error('--allowed-hosts: give at least one name, e.g. canary.example.com');
  return { allowedHosts: hosts.map((h) => h.replace(/^\[|\]$/g, '')) };
}

/** A duration flag in seconds: 0..3600, fractions allowed. */
function seconds(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !(n >= 0 && n <= 3600)) throw new Error(`${flag}: must be a number of seconds from 0 to 3600, got "${value}"`);
  return n;
}

/** `canary up --kubernetes ...`: the control plane against a cluster (no local proxy, no local workloads). */
async function upOnCluster(opts: UpFlags): Promise<void> {
  for (const k of LOCAL_FLAGS) {
    if (opts[k] !== undefined)
      throw new Error(
        `${flagName(k)}: not with --kubernetes (Envoy is the data plane; deploy the demo with kubectl, see docs/kubernetes.md)`,
      );
  }
  const { runClusterUp } = (await import('../../control-plane/cluster-mode.js')) as typeof import('../../control-plane/cluster-mode.js');
  await runClusterUp({
    dataDir: opts.data,
    host: opts.host,
    port: port(opts.port, '--port'),
    ...allowedHostsFlag(opts.allowedHosts),
    ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.context ? { context: opts.context } : {}),
    ...(opts.namespace ? { namespace: opts.namespace } : {}),
    ...(opts.traffic ? { traffic: opts.traffic } : {}),
    ...(opts.gateway ? { gateway: opts.gateway } : {}),
    ...(opts.adopt ? { adopt: true } : {}),
    ...(opts.prometheus ? { prometheus: opts.prometheus } : {}),
    ...(opts.tracing ? { tracing: opts.tracing } : {}),
  });
}

/** `canary up` and `canary proxy`: the servers. Their modules load only when run, so one missing part breaks only its command. */
export function registerRunCommands(program: Command): void {
  const up = program
    .command('up')
    .description('start everything on this machine: control plane + console, mesh proxy, workloads (and a demo)')
    .option('--demo <name>', 'also register a demo application: bookinfo')
    .option('--data <dir>', 'data directory (SQLite, admin token, logs)', './.canary')
    .option('--port <port>', 'control plane and console port', '8080')
    .option('--ingress-port <port>', 'mesh ingress port', '8000')
    .option('--host <host>', 'address to bind; anything beyond loopback exposes the API to the network', '127.0.0.1')
    .option(
      '--allowed-hosts <names>',
      'comma-separated host names the API and console answer to besides localhost, 127.0.0.1, ::1 and --host (".example.com": it and any subdomain); other Host headers get 421',
    )
    .option('--trace-sampling <ratio>', 'share of new traces sampled, 0..1 (default 1 with --demo, else 0.01)')
    .option('--otlp-endpoint <url>', 'also export spans over OTLP/HTTP JSON to this collector, e.g. http://127.0.0.1:4318')
    .option('--run-as <user>', 'when started as root: the user process workloads run as (default nobody); no effect otherwise')
    .option(
      '--orphan-grace <seconds>',
      'if this process is killed (SIGKILL), how long its proxy and workloads keep serving for a new canary up on the same --data to take over (default 10)',
    )
    .option('--kubernetes', 'run against a Kubernetes + Istio cluster: versions are Deployments, Envoy routes (no local proxy)')
    .option('--kubeconfig <file>', 'with --kubernetes: kubeconfig file (default $KUBECONFIG, ~/.kube/config, else in-cluster)')
    .option('--context <name>', "with --kubernetes: kubeconfig context (default: the file's current-context)")
    .option('--namespace <ns>', "with --kubernetes: namespace of the services (default: the context's, else default)")
    .addOption(new Option('--traffic <mode>', 'with --kubernetes: routing objects (default istio)').choices(['istio', 'gateway-api']))
    .option('--gateway <ns/name>', 'with --traffic gateway-api: parent Gateway of the HTTPRoutes (default: the Service, GAMMA)')
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
        const proxyArgs = limitArgs(opts);
        if (opts.kubernetes && proxyArgs.length > 0) {
          throw new Error(`${proxyArgs[0]}: not with --kubernetes (Envoy is the data plane; set its limits in the mesh)`);
        }
        if (opts.kubernetes) return await upOnCluster(opts);
        limitsFromFlags(opts); // a bad value fails here, not in a proxy process restarting over and over
        const clusterOnly = CLUSTER_FLAGS.find((k) => opts[k] !== undefined);
        if (clusterOnly) throw new Error(`${flagName(clusterOnly)}: only with --kubernetes`);
        const { runUp } = (await import('../../control-plane/up.js')) as typeof import('../../control-plane/up.js');
        await runUp({
          dataDir: opts.data,
          host: opts.host,
          port: port(opts.port, '--port'),
          ingressPort: port(opts.ingressPort, '--ingress-port'),
          ...allowedHostsFlag(opts.allowedHosts),
          ...(opts.demo ? { demo: opts.demo } : {}),
          ...(opts.traceSampling !== undefined ? { traceSampling: ratio(opts.traceSampling, '--trace-sampling') } : {}),
          ...(opts.otlpEndpoint ? { otlpEndpoint: opts.otlpEndpoint } : {}),
          ...(opts.runAs ? { runAs: opts.runAs } : {}),
          ...(opts.orphanGrace !== undefined ? { orphanGraceMs: seconds(opts.orphanGrace, '--orphan-grace') * 1000 } : {}),
          ...(proxyArgs.length > 0 ? { proxyArgs } : {}),
        });
      } catch (err) {
        reportError(err);
        process.exit(1);
      }
    });

  registerProxyCommand(program);
}
