import { type ErrorDetail, InputError } from '../core/errors.js';

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
