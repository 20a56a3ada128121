import { z } from 'zod';
import { parseOrThrow } from '../core/validation.js';
import { DEFAULT_PROXY_SETTINGS } from '../data-plane/proxy-settings.js';

/**
 * The control plane's configuration schema (docs/configuration.md): every default written once, here.
 * `createControlPlane` resolves its options through it; `canary up` (up-config.ts) maps its flags and file onto it.
 */

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const millis = (what: string, min: number, max: number) =>
  z
    .int(`${what} must be a whole number of milliseconds`)
    .min(min, `${what} must be at least ${min} ms`)
    .max(max, `${what} must be at most ${max} ms`);

export const ControlPlaneConfig = z.strictObject({
  /** pino level of the control plane's log. */
  logLevel: z.enum(LOG_LEVELS).default('info'),
  /** Finishing a release waits this long between routing to the kept version and retiring the other. */
  drainGraceMs: millis('drainGraceMs', 0, 3_600_000).default(2000),
  /** Interval of `: ping` comments on watch streams (keeps idle connections through proxies and NATs). */
  watchPingMs: millis('watchPingMs', 10, 3_600_000).default(15_000),
  /** Name recorded in events for calls made with the admin token. */
  adminActor: z.string().min(1).default('admin'),
  /** Name recorded in events for the controller's own changes. */
  controllerActor: z.string().min(1).default('controller'),
  telemetry: z
    .strictObject({
      /** Share of new traces the proxies sample (told to them in the answer to each batch); the proxy's own default. */
      traceSampling: z
        .number()
        .min(0, 'traceSampling must be from 0 to 1')
        .max(1, 'traceSampling must be from 0 to 1')
        .default(DEFAULT_PROXY_SETTINGS.traceSampling),
      /** Interval of topology events on `/api/v1/watch`. */
      watchIntervalMs: millis('watchIntervalMs', 10, 3_600_000).default(2000),
    })
    .prefault({}),
});
export type ControlPlaneConfig = z.output<typeof ControlPlaneConfig>;
export type ControlPlaneConfigInput = z.input<typeof ControlPlaneConfig>;

/** Checks `input` and fills in the defaults; throws an InputError naming each bad key (`telemetry.traceSampling: ...`). */
export function parseControlPlaneConfig(input: ControlPlaneConfigInput): ControlPlaneConfig {
  return parseOrThrow(ControlPlaneConfig, input);
}

/** Every default of the control plane, as the schema fills them in. */
export const CONTROL_PLANE_DEFAULTS: Readonly<ControlPlaneConfig> = ControlPlaneConfig.parse({});
