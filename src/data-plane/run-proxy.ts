import type { AddressInfo } from 'node:net';
import type { RouteTable } from '../core/route-table.js';
import { hostAndPort } from './http1-wire.js';
import { PROXY_LIMIT_KEYS, parseProxySettings, type ProxyLimits, type ProxySettingsInput } from './proxy-settings.js';
import { ControlPlaneRouteSource } from './control-plane-route-source.js';
import { FileRouteSource, type RouteFileCompiler } from './file-route-source.js';
import { MeshProxy } from './mesh-proxy.js';
import { consoleProxyLogger, type ProxyLogger } from './proxy-logger.js';
import type { RequestObserver } from './request-observer.js';
import type { RouteSource } from './route-source.js';
import { ProxyTelemetry } from './telemetry/proxy-telemetry.js';

export type ProxyOptions = ProxySettingsInput & {
  observer?: RequestObserver;
  logger?: ProxyLogger;
  /** Close gracefully on SIGTERM/SIGINT and reload the static file on SIGHUP. Default true. */
  handleSignals?: boolean;
  /** Serve the ingress on this listening handle (from `canary up`, see supervisor-link.ts) instead of binding `listen`. */
  ingressHandle?: () => Promise<object>;
  /**
   * With `ingressHandle`: a standby beside a serving proxy. It follows the route source but binds nothing (the
   * outbound ports are the serving proxy's) until handed the ingress.
   */
  standby?: boolean;
  /** Compiles the static route file (`config`): the proxy's entry point hands in src/route-file's. Required with `config`. */
  compileRouteFile?: RouteFileCompiler;
};

export interface RunningProxy {
  proxy: MeshProxy;
  /** The ingress address actually bound (useful with port 0). */
  address: AddressInfo;
  /** The telemetry, when on. */
  telemetry: ProxyTelemetry | null;
  /** The metrics listener's address, when `metricsPort` was given. */
  metricsAddress: AddressInfo | null;
  source: RouteSource;
  /** Closes the listeners gracefully and stops following the route source. */
  close(): Promise<void>;
}

/** Runs a standalone data plane: `canary proxy --config FILE --listen HOST:PORT` or `--control-plane URL --token T`. */
export async function runProxy(options: ProxyOptions): Promise<RunningProxy> {
  const {
    observer,
    logger = consoleProxyLogger,
    handleSignals = true,
    ingressHandle,
    standby = false,
    compileRouteFile,
    ...rest
  } = options;
  const settings = parseProxySettings({ ...rest, token: rest.token ?? (process.env.CANARY_TOKEN || undefined) });
  if (settings.config !== undefined && compileRouteFile === undefined) {
    throw new Error('runProxy: a static route file (config) needs compileRouteFile (src/route-file)');
  }
  const telemetryOn =
    settings.telemetry ??
    (settings.controlPlane !== undefined ||
      settings.metricsPort !== undefined ||
      settings.otlpEndpoint !== undefined ||
      settings.traceSampling !== undefined);
  const telemetry = telemetryOn
    ? new ProxyTelemetry({
        ...(settings.controlPlane !== undefined ? { controlPlane: settings.controlPlane, token: settings.token! } : {}),
        ...(settings.traceSampling !== undefined ? { traceSampling: settings.traceSampling } : {}),
        ...(settings.otlpEndpoint !== undefined ? { otlpEndpoint: settings.otlpEndpoint } : {}),
        logger,
      })
    : null;
  // A caller's observer sees every record too (after the telemetry's own aggregation).
  const observers = [telemetry, observer].filter((o): o is RequestObserver => o != null);
  const combined: RequestObserver | undefined =
    observers.length === 0
      ? undefined
      : observers.length === 1
        ? observers[0]!
        : {
            onRequest: (r) => {
              for (const o of observers) o.onRequest(r);
            },
          };
  // Limits given as flags win over the static file's `proxy:` block, which wins over the defaults.
  const flagLimits: Partial<ProxyLimits> = {};
  for (const key of PROXY_LIMIT_KEYS) {
    const v = settings[key];
    if (v !== undefined) flagLimits[key] = v;
  }
  const proxy = new MeshProxy({
    limits: flagLimits,
    upstreamTimeoutMs: settings.upstreamTimeoutMs,
    exposeVersionHeader: settings.exposeVersionHeader,
    logger,
    ...(combined ? { observer: combined } : {}),
    ...(telemetry ? { tracer: telemetry.tracer } : {}),
  });
  telemetry?.watchOutliers(proxy.outliers);
  telemetry?.watchMirrors(proxy.mirrors);
  const source: RouteSource =
    settings.config !== undefined
      ? new FileRouteSource(settings.config, { compile: compileRouteFile!, watch: settings.watch, logger })
      : new ControlPlaneRouteSource({ url: settings.controlPlane!, token: settings.token!, logger });
  const { host, port } = hostAndPort(settings.listen);
  // A standby waits with the route table at hand and nothing bound until the serving proxy dies: it applies the
  // table, binding the outbound listeners, only once handed the ingress, as those ports are the serving proxy's.
  let deferred = ingressHandle !== undefined && standby;
  let latest: RouteTable | null = null;
  try {
    await source.start(async (table) => {
      // A file's limits come with its table: both apply, or (an invalid mix) neither.
      if (source instanceof FileRouteSource) proxy.setLimits({ ...source.proxyLimits, ...flagLimits });
      if (deferred) latest = table;
      else await proxy.applyRouteTable(table);
    });
  } catch (err) {
    await proxy.close();
    await telemetry?.close();
    throw err;
  }
  let address: AddressInfo;
  try {
    if (ingressHandle) {
      const handle = await ingressHandle();
      deferred = false;
      const table = latest as RouteTable | null;
      // The table is in force as soon as applied (the outbound listeners follow): the ingress need not wait.
      const outbound = table ? proxy.applyRouteTable(table) : Promise.resolve();
      address = await proxy.listenIngress(host, port, handle);
      await outbound;
    } else {
      address = await proxy.listenIngress(host, port);
    }
  } catch (err) {
    await source.close();
    await proxy.close();
    await telemetry?.close();
    const why = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'the address is in use' : (err as Error).message;
    throw new Error(`cannot listen on ${settings.listen}: ${why}`);
  }
  let metricsAddress: AddressInfo | null = null;
  if (telemetry && settings.metricsPort !== undefined) {
    try {
      metricsAddress = await telemetry.listenMetrics(host, settings.metricsPort);
      logger.info(`metrics on http://${host.includes(':') ? `[${host}]` : host}:${metricsAddress.port}/metrics`);
    } catch (err) {
      await source.close();
      await proxy.close();
      await telemetry.close();
      throw new Error(`cannot listen on --metrics-port ${settings.metricsPort}: ${(err as Error).message}`);
    }
  }
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  logger.info(
    `listening on http://${shown}:${address.port} (ingress), routes from ${source.description}, revision ${proxy.revision}, ` +
      `${proxy.outboundPorts().length} outbound listener(s)`,
  );

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (handleSignals) {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        process.off('SIGHUP', onHangup);
      }
      await source.close();
      await proxy.close();
      await telemetry?.close();
    })();
    return closing;
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info(`${signal}: closing listeners, letting requests in flight finish`);
    close().then(
      () => logger.info('stopped'),
      (err: Error) => logger.error(`while stopping: ${err.message}`),
    );
  };
  const onHangup = (): void => {
    if (source instanceof FileRouteSource) void source.reload();
  };
  if (handleSignals) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onHangup);
  }
  return { proxy, address, source, telemetry, metricsAddress, close };
}
