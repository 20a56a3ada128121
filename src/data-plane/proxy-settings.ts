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
  maxHeadBytes: 16 * 1024,
  maxTargetBytes: 8 * 1024,
};

/** Allowed range of each limit; the header timeout stays under node:http's 300 s request timeout. */
const LIMIT_RANGES: Record<keyof ProxyLimits, [min: number, max: number, unit: string]> = {
  headerTimeoutMs: [1, 300_000, 'ms'],
  idleTimeoutMs: [1, 3_600_000, 'ms'],
  sendTimeoutMs: [1, 3_600_000, 'ms'],
  queueTimeoutMs: [1, 3_600_000, 'ms'],
  maxConnections: [1, 1_000_000, 'connections'],
  maxHeadBytes: [1024, 1024 * 1024, 'bytes'],
  maxTargetBytes: [16, 1024 * 1024, 'bytes'],
};

export const PROXY_LIMIT_KEYS = Object.keys(LIMIT_RANGES) as (keyof ProxyLimits)[];

/**
 * Checks the limits present in `input` (absent ones take their default), adding a problem per bad value under
 * `prefix` (`proxy.headerTimeoutMs: ...` for the static file). Returns the complete limits.
 */
export function checkProxyLimits(input: Partial<Record<keyof ProxyLimits, unknown>>, prefix: string, problems: ErrorDetail[]): ProxyLimits {
  const limits = { ...DEFAULT_PROXY_LIMITS };
  for (const key of PROXY_LIMIT_KEYS) {
    const v = input[key];
    if (v === undefined) continue;
    const [min, max, unit] = LIMIT_RANGES[key];
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
 * The settings of `canary proxy`; CLI flags and environment map onto these. Checked by hand rather than with the
 * core's zod schemas: a proxy process that never loads zod starts about 14 MB smaller (docs/adr/0006-lean-proxy-process.md).
 */
export interface ProxySettingsInput {
  /** Static route file (YAML or JSON): `--config FILE`. */
  config?: string | undefined;
  /** Control plane base URL: `--control-plane URL`. */
  controlPlane?: string | undefined;
  /** Bearer token for the control plane: `--token T`, else env CANARY_TOKEN. */
  token?: string | undefined;
  /** Ingress address: `--listen HOST:PORT`. Default 127.0.0.1:8000. */
  listen?: string | undefined;
  /** Default 15000. */
  upstreamTimeoutMs?: number | undefined;
  /** Default false. */
  exposeVersionHeader?: boolean | undefined;
  /** Reload the static file when it changes. Default true. */
  watch?: boolean | undefined;
  /** Serve Prometheus `/metrics` (and `/healthz`) on this port of the ingress host: `--metrics-port N` (0: any free port). */
  metricsPort?: number | undefined;
  /** Share of new traces sampled, 0..1: `--trace-sampling R`. Unset: the control plane's setting, else 0.01. */
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
  const listen = input.listen ?? '127.0.0.1:8000';
  if (typeof listen !== 'string' || !LISTEN.test(listen)) {
    problem('listen', 'must be HOST:PORT, e.g. 127.0.0.1:8000 (port 0 picks a free port)');
  }
  const upstreamTimeoutMs = input.upstreamTimeoutMs ?? 15_000;
  if (!Number.isInteger(upstreamTimeoutMs) || upstreamTimeoutMs <= 0) problem('upstreamTimeoutMs', 'must be a positive whole number of ms');
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
    exposeVersionHeader: input.exposeVersionHeader ?? false,
    watch: input.watch ?? true,
  };
}
