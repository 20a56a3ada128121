import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { parseOrThrow } from '../core/index.js';
import { ControlPlaneRouteSource } from './control-plane-route-source.js';
import { FileRouteSource } from './file-route-source.js';
import { MeshProxy } from './mesh-proxy.js';
import { consoleProxyLogger, type ProxyLogger } from './proxy-logger.js';
import type { RequestObserver } from './request-observer.js';
import type { RouteSource } from './route-source.js';

const ListenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/, 'must be HOST:PORT, e.g. 127.0.0.1:8000 (port 0 picks a free port)');

/** The settings of `canary proxy`; CLI flags and environment map onto these. */
export const ProxySettings = z
  .strictObject({
    /** Static route file (YAML): `--config FILE`. */
    config: z.string().min(1).optional(),
    /** Control plane base URL: `--control-plane URL`. */
    controlPlane: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL, e.g. http://127.0.0.1:8080' }).optional(),
    /** Bearer token for the control plane: `--token T`, else env CANARY_TOKEN. */
    token: z.string().min(1).optional(),
    /** Ingress address: `--listen HOST:PORT`. */
    listen: ListenAddress.default('127.0.0.1:8000'),
    upstreamTimeoutMs: z.int().positive().default(15_000),
    exposeVersionHeader: z.boolean().default(false),
    /** Reload the static file when it changes. */
    watch: z.boolean().default(true),
  })
  .superRefine((s, ctx) => {
    if ((s.config === undefined) === (s.controlPlane === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'give either --config FILE (a static route file) or --control-plane URL --token T, not both and not neither',
      });
    }
    if (s.controlPlane !== undefined && s.token === undefined) {
      ctx.addIssue({ code: 'custom', path: ['token'], message: 'the control plane needs a token: give --token T or set CANARY_TOKEN' });
    }
  });

export type ProxyOptions = z.input<typeof ProxySettings> & {
  observer?: RequestObserver;
  logger?: ProxyLogger;
  /** Close gracefully on SIGTERM/SIGINT and reload the static file on SIGHUP. Default true. */
  handleSignals?: boolean;
};

export interface RunningProxy {
  proxy: MeshProxy;
  /** The ingress address actually bound (useful with port 0). */
  address: AddressInfo;
  source: RouteSource;
  /** Closes the listeners gracefully and stops following the route source. */
  close(): Promise<void>;
}

function splitListen(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(':');
  let host = listen.slice(0, colon);
  if (host.startsWith('[')) host = host.slice(1, -1);
  return { host, port: Number(listen.slice(colon + 1)) };
}

/** Runs a standalone data plane: `canary proxy --config FILE --listen HOST:PORT` or `--control-plane URL --token T`. */
export async function runProxy(options: ProxyOptions): Promise<RunningProxy> {
  const { observer, logger = consoleProxyLogger, handleSignals = true, ...rest } = options;
  const settings = parseOrThrow(ProxySettings, { ...rest, token: rest.token ?? (process.env.CANARY_TOKEN || undefined) });
  const proxy = new MeshProxy({
    upstreamTimeoutMs: settings.upstreamTimeoutMs,
    exposeVersionHeader: settings.exposeVersionHeader,
    logger,
    ...(observer ? { observer } : {}),
  });
  const source: RouteSource =
    settings.config !== undefined
      ? new FileRouteSource(settings.config, { watch: settings.watch, logger })
      : new ControlPlaneRouteSource({ url: settings.controlPlane!, token: settings.token!, logger });
  const { host, port } = splitListen(settings.listen);
  try {
    await source.start(async (table) => {
      await proxy.applyRouteTable(table);
    });
  } catch (err) {
    await proxy.close();
    throw err;
  }
  let address: AddressInfo;
  try {
    address = await proxy.listenIngress(host, port);
  } catch (err) {
    await source.close();
    await proxy.close();
    const why = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'the address is in use' : (err as Error).message;
    throw new Error(`cannot listen on ${settings.listen}: ${why}`);
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
  return { proxy, address, source, close };
}
