import { type ErrorDetail, InputError } from '../core/errors.js';

/**
 * What one proxy process allows a client (docs/proxy.md, "Limits and timeouts"). Flags, the static file's `proxy:`
 * block and `canary up` map onto these; each has a default.
 */
export interface ProxyLimits {
  /** Time from a connection's accept, or from the first byte of a later request, to the end of its head (408). */
  headerTimeoutMs: number;
  /** Time a keep-alive client connection may sit between requests before it is closed. */
  idleTimeoutMs: number;
  /** Time a client may take no byte of an answer that is waiting for it before it is cut (its upstream released). */
  sendTimeoutMs: number;
  /** Time a request may wait for a free upstream connection (all of the endpoint's busy) before a 503. */
  queueTimeoutMs: number;
  /** Client connections open at once in this proxy process, over all its listeners; beyond it new ones get 503. */
  maxConnections: number;
  /** Largest request head (request line and fields) accepted (431 beyond it). */
  maxHeadBytes: number;
  /** Longest request target accepted (414 beyond it). */
  maxTargetBytes: number;
}

export const DEFAULT_PROXY_LIMITS: Readonly<ProxyLimits> = {
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 65_000,
  sendTimeoutMs: 30_000,
  queueTimeoutMs: 10_000,
  maxConnections: 10_000,
  /** node:http's own default (`--max-http-header-size`). */
  maxHeadBytes: 16 * 1024,
  /** nginx's default line buffer. */
  maxTargetBytes: 8 * 1024,
};

/** Allowed range of each limit; the header timeout stays under node:http's 300 s request timeout. */
export const PROXY_LIMIT_RANGES: Readonly<Record<keyof ProxyLimits, readonly [min: number, max: number, unit: string]>> = {
  headerTimeoutMs: [1, 300_000, 'ms'],
  idleTimeoutMs: [1, 3_600_000, 'ms'],
  sendTimeoutMs: [1, 3_600_000, 'ms'],
  queueTimeoutMs: [1, 3_600_000, 'ms'],
  maxConnections: [1, 1_000_000, 'connections'],
  maxHeadBytes: [1024, 1024 * 1024, 'bytes'],
  maxTargetBytes: [16, 1024 * 1024, 'bytes'],
};

export const PROXY_LIMIT_KEYS = Object.keys(PROXY_LIMIT_RANGES) as (keyof ProxyLimits)[];

/**
 * Checks the limits present in `input` (absent ones take their default), adding a problem per bad value under
 * `prefix` (`proxy.headerTimeoutMs: ...` for the static file). Returns the complete limits.
 */
export function checkProxyLimits(input: Partial<Record<keyof ProxyLimits, unknown>>, prefix: string, problems: ErrorDetail[]): ProxyLimits {
  const limits = { ...DEFAULT_PROXY_LIMITS };
  for (const key of PROXY_LIMIT_KEYS) {
    const v = input[key];
    if (v === undefined) continue;
    const [min, max, unit] = PROXY_LIMIT_RANGES[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      problems.push({
        path: `${prefix}${key}`,
        message: `must be a whole number of ${unit} from ${min} to ${max}, got ${JSON.stringify(v)}`,
      });
    } else {
      limits[key] = v;
    }
  }
  if (limits.maxTargetBytes > limits.maxHeadBytes) {
    problems.push({
      path: `${prefix}maxTargetBytes`,
      message: `must not exceed maxHeadBytes (${limits.maxHeadBytes}): the target is part of the head`,
    });
  }
  return limits;
}

/**
 * The settings of `canary proxy` (docs/configuration.md). This module is the proxy's configuration schema: every
 * default below is written here once, and the flags, `--help`, the environment, the static file's `proxy:` block
 * and `canary up` (which builds its zod schema's `proxy` section from these tables) map onto it. Checked by hand
 * rather than with zod: a proxy process that never loads zod starts about 14 MB smaller
 * (docs/adr/0006-lean-proxy-process.md).
 */
export const DEFAULT_PROXY_SETTINGS = {
  listen: '127.0.0.1:8000',
  /** `canary proxy`'s workers: one per core. */
  workers: 'auto',
  upstreamTimeoutMs: 15_000,
  /** Used only when no control plane tells the proxy its setting (its answer to each batch). */
  traceSampling: 0.01,
  exposeVersionHeader: false,
  watch: true,
  /** Time the listeners get to finish their requests in flight when the proxy closes. */
  drainTimeoutMs: 10_000,
  ...DEFAULT_PROXY_LIMITS,
} as const;

/** The upstream timeout's allowed range (it is a flag beside the limits, not part of the static file's block). */
export const UPSTREAM_TIMEOUT_RANGE = [1, 3_600_000, 'ms'] as const;

/** A setting as the command line and environment spell it; `help` says nothing of the default (added from above). */
export interface ProxyFlag {
  flag: string;
  help: string;
  env?: string;
}

/** Every flag of `canary proxy`, by setting; `canary up` passes the limit flags (and the upstream timeout) on. */
export const PROXY_FLAGS = {
  config: { flag: '--config <file>', help: 'static route file (YAML, the API shapes: services with versions and routes)' },
  listen: { flag: '--listen <host:port>', help: 'ingress address' },
  controlPlane: { flag: '--control-plane <url>', help: 'follow this control plane instead of a file' },
  token: { flag: '--token <token>', help: 'bearer token for the control plane', env: 'CANARY_TOKEN' },
  workers: {
    flag: '--workers <n>',
    help: 'proxy processes sharing the listeners (node:cluster), each following the route source; "auto": one per core',
  },
  metricsPort: { flag: '--metrics-port <port>', help: 'serve Prometheus /metrics (Istio names) on this port of the ingress host' },
  traceSampling: {
    flag: '--trace-sampling <ratio>',
    help: "share of new traces sampled, 0..1; a followed control plane's setting applies unless this is given",
  },
  otlpEndpoint: {
    flag: '--otlp-endpoint <url>',
    help: 'also export spans over OTLP/HTTP JSON to this collector, e.g. http://127.0.0.1:4318',
  },
  headerTimeoutMs: { flag: '--header-timeout <ms>', help: 'time to receive a request head, else 408 and close' },
  idleTimeoutMs: { flag: '--idle-timeout <ms>', help: 'keep-alive client connections idle this long are closed' },
  sendTimeoutMs: {
    flag: '--send-timeout <ms>',
    help: 'a client taking no byte of its answer this long is cut, freeing its upstream connection',
  },
  queueTimeoutMs: { flag: '--queue-timeout <ms>', help: 'a request waiting this long for a free upstream connection gets 503' },
  maxConnections: { flag: '--max-connections <n>', help: 'client connections per proxy process; beyond it new ones get 503' },
  maxHeadBytes: { flag: '--max-head-bytes <n>', help: 'largest request head, else 431' },
  maxTargetBytes: { flag: '--max-target-bytes <n>', help: 'longest request target, else 414' },
  upstreamTimeoutMs: { flag: '--upstream-timeout <ms>', help: 'time an upstream has to answer (and between body chunks), else 504' },
} as const satisfies Record<string, ProxyFlag>;

/** The settings `canary up` hands to its proxy as flags: the limits and the upstream timeout. */
export const PROXY_TUNING_KEYS = [...PROXY_LIMIT_KEYS, 'upstreamTimeoutMs'] as const;
export type ProxyTuningKey = (typeof PROXY_TUNING_KEYS)[number];

const bareFlag = (flag: string): string => flag.slice(0, flag.indexOf(' '));

/** Settings of the proxy's tuning as its flags again (`canary up` passes them on to its proxy process). */
export function tuningArgs(tuning: Partial<Record<ProxyTuningKey, number>>): string[] {
  return PROXY_TUNING_KEYS.flatMap((key) => {
    const v = tuning[key];
    return v === undefined ? [] : [bareFlag(PROXY_FLAGS[key].flag), String(v)];
  });
}

/** A flag's help with its default, as `--help` prints it: `ingress address (default: 127.0.0.1:8000)`. */
export function helpWithDefault(help: string, value: unknown): string {
  return value === undefined ? help : `${help} (default: ${String(value)})`;
}

export interface ProxySettingsInput {
  /** Static route file (YAML or JSON): `--config FILE`. */
  config?: string | undefined;
  /** Control plane base URL: `--control-plane URL`. */
  controlPlane?: string | undefined;
  /** Bearer token for the control plane: `--token T`, else env CANARY_TOKEN. */
  token?: string | undefined;
  /** Ingress address: `--listen HOST:PORT`. */
  listen?: string | undefined;
  /** `--upstream-timeout MS`. */
  upstreamTimeoutMs?: number | undefined;
  /** Answer with the `x-canary-version` header. */
  exposeVersionHeader?: boolean | undefined;
  /** Reload the static file when it changes. */
  watch?: boolean | undefined;
  /** Serve Prometheus `/metrics` (and `/healthz`) on this port of the ingress host: `--metrics-port N` (0: any free port). */
  metricsPort?: number | undefined;
  /** Share of new traces sampled, 0..1: `--trace-sampling R`. Unset: the control plane's setting, else the default. */
  traceSampling?: number | undefined;
  /** Export spans over OTLP/HTTP JSON to this collector: `--otlp-endpoint URL`. */
  otlpEndpoint?: string | undefined;
  /**
   * Telemetry (metrics, traces, batches to the control plane). Default: on when following a control plane or when
   * --metrics-port / --otlp-endpoint / --trace-sampling is given; off otherwise (a static proxy then records nothing).
   */
  telemetry?: boolean | undefined;
  /** `--header-timeout MS` (ProxyLimits); unset ones come from the static file's `proxy:` block, else the default. */
  headerTimeoutMs?: number | undefined;
  /** `--idle-timeout MS`. */
  idleTimeoutMs?: number | undefined;
  /** `--send-timeout MS`. */
  sendTimeoutMs?: number | undefined;
  /** `--queue-timeout MS`. */
  queueTimeoutMs?: number | undefined;
  /** `--max-connections N`. */
  maxConnections?: number | undefined;
  /** `--max-head-bytes N`. */
  maxHeadBytes?: number | undefined;
  /** `--max-target-bytes N`. */
  maxTargetBytes?: number | undefined;
}

export interface ProxySettings extends ProxySettingsInput {
  listen: string;
  upstreamTimeoutMs: number;
  exposeVersionHeader: boolean;
  watch: boolean;
}

const LISTEN = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/;
const KNOWN = new Set<string>([
  'config',
  'controlPlane',
  'token',
  'listen',
  'upstreamTimeoutMs',
  'exposeVersionHeader',
  'watch',
  'metricsPort',
  'traceSampling',
  'otlpEndpoint',
  'telemetry',
  ...PROXY_LIMIT_KEYS,
]);

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** Checks every field, then throws one InputError naming each problem (`listen: must be HOST:PORT, ...`). */
export function parseProxySettings(input: ProxySettingsInput): ProxySettings {
  const problems: ErrorDetail[] = [];
  const problem = (path: string, message: string): void => {
    problems.push({ path, message });
  };
  for (const key of Object.keys(input)) {
    if (!KNOWN.has(key) && (input as Record<string, unknown>)[key] !== undefined) problem(key, 'is not a setting of canary proxy');
  }
  const text = (key: 'config' | 'controlPlane' | 'token' | 'otlpEndpoint'): void => {
    const v = input[key];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0)) problem(key, 'must be a non-empty string');
  };
  text('config');
  text('token');
  const url = (key: 'controlPlane' | 'otlpEndpoint', example: string): void => {
    const v = input[key];
    if (v === undefined) return;
    if (typeof v !== 'string' || !isHttpUrl(v)) problem(key, `must be an http:// or https:// URL, e.g. ${example}`);
  };
  url('controlPlane', 'http://127.0.0.1:8080');
  url('otlpEndpoint', 'http://127.0.0.1:4318');
  const listen = input.listen ?? DEFAULT_PROXY_SETTINGS.listen;
  if (typeof listen !== 'string' || !LISTEN.test(listen)) {
    problem('listen', 'must be HOST:PORT, e.g. 127.0.0.1:8000 (port 0 picks a free port)');
  }
  const upstreamTimeoutMs = input.upstreamTimeoutMs ?? DEFAULT_PROXY_SETTINGS.upstreamTimeoutMs;
  const [minTimeout, maxTimeout] = UPSTREAM_TIMEOUT_RANGE;
  if (!Number.isInteger(upstreamTimeoutMs) || upstreamTimeoutMs < minTimeout || upstreamTimeoutMs > maxTimeout) {
    problem('upstreamTimeoutMs', `must be a whole number of ms from ${minTimeout} to ${maxTimeout}`);
  }
  const flag = (key: 'exposeVersionHeader' | 'watch' | 'telemetry'): void => {
    const v = input[key];
    if (v !== undefined && typeof v !== 'boolean') problem(key, 'must be true or false');
  };
  flag('exposeVersionHeader');
  flag('watch');
  flag('telemetry');
  const { metricsPort, traceSampling } = input;
  if (metricsPort !== undefined && (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535)) {
    problem('metricsPort', 'must be a port number 0..65535 (0: any free port)');
  }
  if (traceSampling !== undefined && (typeof traceSampling !== 'number' || !(traceSampling >= 0 && traceSampling <= 1))) {
    problem('traceSampling', 'must be from 0 to 1');
  }
  checkProxyLimits(input, '', problems);
  if ((input.config === undefined) === (input.controlPlane === undefined)) {
    problem('', 'give either --config FILE (a static route file) or --control-plane URL --token T, not both and not neither');
  }
  if (input.controlPlane !== undefined && input.token === undefined) {
    problem('token', 'the control plane needs a token: give --token T or set CANARY_TOKEN');
  }
  if (problems.length > 0) throw InputError.fromDetails(problems);
  return {
    ...input,
    listen,
    upstreamTimeoutMs,
    exposeVersionHeader: input.exposeVersionHeader ?? DEFAULT_PROXY_SETTINGS.exposeVersionHeader,
    watch: input.watch ?? DEFAULT_PROXY_SETTINGS.watch,
  };
}
