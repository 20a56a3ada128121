import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { InputError } from '../core/errors.js';
import { zodDetails } from '../core/validation.js';
import { hostAndPort } from '../core/address.js';
import {
  DEFAULT_PROXY_SETTINGS,
  PROXY_LIMIT_RANGES,
  PROXY_TUNING_KEYS,
  type ProxyTuningKey,
  tuningArgs,
  UPSTREAM_TIMEOUT_RANGE,
} from '../data-plane/proxy-settings.js';
import { ControlPlaneConfig } from './control-plane-config.js';
import type { UpOptions } from './up.js';

/**
 * The configuration schema of `canary up` (docs/configuration.md): flags, a YAML file (`canary up --config FILE`)
 * and the environment map onto these keys; every default is written here once (the proxy's and the control plane's
 * come from their own schemas). Precedence: a flag beats the file, the file beats the default.
 */

const PORT = 'must be a port number 0..65535';
const Port = z.int(PORT).min(0, PORT).max(65535, PORT);

/** A strict object whose unknown keys are refused with the keys it does have, to say what to write instead. */
const unknownKeys = (keys: () => readonly string[]) => ({
  error: (issue: { code?: string; keys?: string[] }) =>
    issue.code === 'unrecognized_keys'
      ? `unknown key ${(issue.keys ?? []).map((k) => `"${k}"`).join(', ')}; the keys are ${keys().join(', ')}`
      : undefined,
});

const HttpUrl = (example: string) =>
  z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
      } catch {
        return false;
      }
    },
    { error: `must be an http:// or https:// URL, e.g. ${example}` },
  );

/** `canary.example.com`, `.corp.example` (it and every subdomain), or an address; no scheme, no port. */
const AllowedHost = z
  .string()
  .refine((h) => /^\.?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?$|^\[?[0-9A-Fa-f:.]+\]?$/.test(h), {
    error: (issue) =>
      `${JSON.stringify(issue.input)} is not a host name or address (write names without scheme or port, e.g. canary.example.com,.corp.example)`,
  })
  .transform((h) => h.replace(/^\[|\]$/g, ''));

/** The proxy's limits and upstream timeout, built from the proxy's own ranges; unset ones take the proxy's defaults. */
const ProxyTuning = z.strictObject(
  Object.fromEntries(
    PROXY_TUNING_KEYS.map((key) => {
      const [min, max, unit] = key === 'upstreamTimeoutMs' ? UPSTREAM_TIMEOUT_RANGE : PROXY_LIMIT_RANGES[key];
      const message = `must be a whole number of ${unit} from ${min} to ${max}`;
      return [key, z.int(message).min(min, message).max(max, message).optional()];
    }),
  ) as Record<ProxyTuningKey, z.ZodOptional<z.ZodInt>>,
  unknownKeys(() => PROXY_TUNING_KEYS),
);

const ingress = hostAndPort(DEFAULT_PROXY_SETTINGS.listen);

export const UpConfig = z
  .strictObject(
    {
      /** Data directory: SQLite, admin token, logs. */
      data: z.string().min(1).default('./.canary'),
      /** Address the API, console and ingress bind; anything beyond loopback exposes the API to the network. */
      host: z.string().min(1).default(ingress.host),
      /** Control plane and console port. */
      port: Port.default(8080),
      /** Mesh ingress port. */
      ingressPort: Port.default(ingress.port),
      /** Host names the API answers to besides localhost, 127.0.0.1, ::1 and `host`. */
      allowedHosts: z.array(AllowedHost).min(1, 'give at least one name, e.g. canary.example.com').optional(),
      /** Also register a demo application. */
      demo: z.enum(['bookinfo'], { error: 'the only demo is "bookinfo"' }).optional(),
      /** Share of new traces sampled, 0..1; unset: 1 with a demo (every request traced), else the control plane's. */
      traceSampling: z.number('must be a number from 0 to 1').min(0, 'must be from 0 to 1').max(1, 'must be from 0 to 1').optional(),
      /** Also export spans over OTLP/HTTP JSON (env CANARY_OTLP_ENDPOINT when unset). */
      otlpEndpoint: HttpUrl('http://127.0.0.1:4318').optional(),
      /** When started as root: the user process workloads run as. */
      runAs: z.string().min(1).default('nobody'),
      /** Seconds the proxy and workloads outlive this process when it is killed unseen, for a new run to take over. */
      orphanGrace: z
        .number('must be a number of seconds')
        .min(0, 'must be 0 to 3600 seconds')
        .max(3600, 'must be 0 to 3600 seconds')
        .default(10),
      /** The local proxy's limits and upstream timeout (`canary proxy --help`). */
      proxy: ProxyTuning.optional(),
      /** Finishing a release waits this long between routing to the kept version and retiring the other. */
      drainGraceMs: ControlPlaneConfig.shape.drainGraceMs,
      /** Run against a Kubernetes + Istio cluster (docs/kubernetes.md); the keys below only mean something with it. */
      kubernetes: z.boolean('must be true or false').default(false),
      kubeconfig: z.string().min(1).optional(),
      context: z.string().min(1).optional(),
      namespace: z.string().min(1).optional(),
      traffic: z.enum(['istio', 'gateway-api'], { error: 'must be istio or gateway-api' }).optional(),
      gateway: z.string().min(1).optional(),
      /** With `gateway` and istio: host names requests carry through the gateway (the VirtualService's further hosts). */
      gatewayHosts: z.array(z.string().min(1, 'must not be empty')).min(1, 'give at least one host name').optional(),
      adopt: z.boolean('must be true or false').optional(),
      prometheus: HttpUrl('http://127.0.0.1:9090').optional(),
      tracing: HttpUrl('http://127.0.0.1:16686').optional(),
    },
    unknownKeys(() => UP_KEYS),
  )
  .superRefine((c, ctx) => {
    const given = (keys: readonly (keyof typeof c)[]) => keys.filter((k) => c[k] !== undefined);
    if (c.kubernetes) {
      const envoy =
        'not with --kubernetes (Envoy is the data plane: deploy the demo with kubectl, set limits in the mesh; see docs/kubernetes.md)';
      for (const k of given(['demo', 'traceSampling', 'otlpEndpoint'])) ctx.addIssue({ code: 'custom', path: [k], message: envoy });
      for (const k of Object.keys(c.proxy ?? {})) ctx.addIssue({ code: 'custom', path: ['proxy', k], message: envoy });
    } else {
      for (const k of given([
        'kubeconfig',
        'context',
        'namespace',
        'traffic',
        'gateway',
        'gatewayHosts',
        'adopt',
        'prometheus',
        'tracing',
      ])) {
        ctx.addIssue({ code: 'custom', path: [k], message: 'only with --kubernetes (kubernetes: true)' });
      }
    }
  });
export type UpConfig = z.output<typeof UpConfig>;
export type UpConfigInput = z.input<typeof UpConfig>;

/** Every default of `canary up` as the schema fills them in (for `--help`). */
export const UP_DEFAULTS: Readonly<UpConfig> = UpConfig.parse({});

/** Every key of the file, in the schema's order. */
export const UP_KEYS: readonly string[] = Object.keys(UpConfig.shape);

/**
 * Reads a YAML config file: an InputError names the file and each bad key (`config.yaml: port: must be a port
 * number 0..65535`). Checked alone first, so a mistake in the file is said as one, before any flag is merged in.
 */
export function readUpConfigFile(file: string): UpConfigInput {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`${file}: cannot read the config file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) throw new InputError(`${file}: not valid YAML: ${doc.errors[0]!.message}`);
  const value: unknown = doc.toJS() ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new InputError(`${file}: must be a mapping of keys (see canary up --help)`);
  const checked = UpConfig.safeParse(value);
  if (!checked.success) {
    const details = zodDetails(checked.error);
    throw new InputError(`${file}: ${InputError.fromDetails(details).message}`, details);
  }
  return value as UpConfigInput;
}

/**
 * The file's values with the flags' on top (a flag beats the file), checked and with the defaults filled in. A
 * problem with a value a flag gave is named by `flagOf` (`--port` rather than `port`), one from the file by its key.
 */
export function resolveUpConfig(
  fromFile: UpConfigInput,
  fromFlags: UpConfigInput,
  flagOf: (path: readonly PropertyKey[]) => string | undefined = () => undefined,
): UpConfig {
  const flagsProxy = fromFlags.proxy;
  const merged: UpConfigInput = { ...fromFile, ...dropUndefined(fromFlags) };
  if (fromFile.proxy !== undefined || flagsProxy !== undefined) merged.proxy = { ...fromFile.proxy, ...dropUndefined(flagsProxy ?? {}) };
  const result = UpConfig.safeParse(merged);
  if (result.success) return result.data;
  throw InputError.fromDetails(
    result.error.issues.map((issue) => {
      const [key, sub] = issue.path;
      const fromFlag =
        key === 'proxy'
          ? sub !== undefined && fromFlags.proxy?.[sub as ProxyTuningKey] !== undefined
          : key !== undefined && fromFlags[key as keyof UpConfigInput] !== undefined;
      return { path: (fromFlag && flagOf(issue.path)) || issue.path.map(String).join('.'), message: issue.message };
    }),
  );
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The checked configuration as `startUp`'s options. */
export function upOptions(c: UpConfig): UpOptions {
  const proxyArgs = tuningArgs(c.proxy ?? {});
  return {
    dataDir: c.data,
    host: c.host,
    port: c.port,
    ingressPort: c.ingressPort,
    runAs: c.runAs,
    orphanGraceMs: c.orphanGrace * 1000,
    drainGraceMs: c.drainGraceMs,
    ...(c.allowedHosts ? { allowedHosts: c.allowedHosts } : {}),
    ...(c.demo ? { demo: c.demo } : {}),
    ...(c.traceSampling !== undefined ? { traceSampling: c.traceSampling } : {}),
    ...(c.otlpEndpoint ? { otlpEndpoint: c.otlpEndpoint } : {}),
    ...(proxyArgs.length > 0 ? { proxyArgs } : {}),
  };
}
