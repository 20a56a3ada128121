import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { jsonSchemaTransform, serializerCompiler } from 'fastify-type-provider-zod';
import { SqliteStore } from '../store/index.js';
import { TelemetryHub } from '../telemetry/index.js';
import type { WorkloadRuntime } from '../workloads/workload-runtime.js';
import { installAccessControl, type RouteAccess } from './access-control.js';
import { registerAnalysisApi } from './analysis-api.js';
import { type AnalysisMetrics, LocalAnalysisMetrics } from './analysis-metrics.js';
import { AnalysisRunner } from './analysis-runner.js';
import { AccessTokens } from './access-tokens.js';
import { loadAdminToken } from './admin-token.js';
import { installErrorHandling } from './api-error.js';
import type { ApiContext } from './api-context.js';
import type { ExternalTelemetry } from './cluster-telemetry.js';
import { registerConsole } from './console-static.js';
import { registerEventsApi } from './events-api.js';
import { type ControlPlaneConfig, parseControlPlaneConfig } from './control-plane-config.js';
import { DesiredState } from './desired-state.js';
import { ReleaseController } from './release-controller.js';
import { registerReleasesApi } from './releases-api.js';
import { RouteTableFeed } from './route-table-feed.js';
import { registerRouteTableApi } from './route-table-api.js';
import { ServiceController } from './service-controller.js';
import { registerServicesApi } from './services-api.js';
import { SignInThrottle, type SignInThrottleOptions } from './sign-in-throttle.js';
import { registerTelemetryApi } from './telemetry-api.js';
import { registerTokensApi } from './tokens-api.js';
import { zodValidatorCompiler } from './zod-validator.js';

export interface ControlPlaneOptions {
  /** Data directory (created 0700): `canary.db`, and `admin-token` unless a token is given. */
  dataDir: string;
  runtime: WorkloadRuntime;
  /** The admin bearer token; else env CANARY_ADMIN_TOKEN; else `<dataDir>/admin-token` (generated on first start). */
  adminToken?: string;
  /** Name recorded in events for calls made with the admin token (defaults: control-plane-config.ts). */
  adminActor?: string;
  /** Name recorded in events for the controller's own changes. */
  controllerActor?: string;
  /** pino level. */
  logLevel?: ControlPlaneConfig['logLevel'];
  /** Where log lines (JSON, pino) go; default stdout. */
  logStream?: NodeJS.WritableStream;
  /** Finishing a release waits this long between routing to the kept version and retiring the other. */
  drainGraceMs?: number;
  /** The console's built files; default `web/dist` of the package. */
  consoleDir?: string;
  /** Interval of `: ping` comments on watch streams. */
  watchPingMs?: number;
  /**
   * Names (or addresses) the API answers to besides localhost, 127.0.0.1, ::1 and the bound address; `.example.com`
   * accepts that name and every subdomain. Requests with another `Host` get 421 (this stops DNS rebinding). `canary up --allowed-hosts`.
   */
  allowedHosts?: string[];
  /** Back-off of repeated rejected tokens per client address (defaults: 10 free, then 1 s doubling up to 60 s). */
  signInThrottle?: SignInThrottleOptions;
  /** Telemetry: trace sampling told to proxies, trace retention, OTLP export, the demo traffic target. */
  telemetry?: ControlPlaneTelemetryOptions;
  /** Automated analysis: where it reads metrics, where `analysis.load` sends requests, how often it looks. */
  analysis?: ControlPlaneAnalysisOptions;
}

export interface ControlPlaneAnalysisOptions {
  /** Both versions' counts and latency; default the proxies' telemetry (cluster mode: Prometheus). */
  metrics?: AnalysisMetrics;
  /** The mesh ingress, e.g. `http://127.0.0.1:8000`: where `analysis.load` sends; unset: `load` is refused. */
  ingressUrl?: string;
  /** How often the runner looks whether a check or step is due; default 200 ms. */
  tickMs?: number;
  /** First retry delay of webhooks; default 250 ms. */
  webhookBackoffMs?: number;
}

export interface ControlPlaneTelemetryOptions {
  /** Share of new traces the proxies sample, 0..1 (`canary up --demo` sets 1). */
  traceSampling?: number;
  /** Trace retention by age (ms), default 24 h; by size (spans), default 200000. */
  traceMaxAgeMs?: number;
  traceMaxSpans?: number;
  /** Also export spans over OTLP/HTTP JSON to this collector; default env CANARY_OTLP_ENDPOINT. */
  otlpEndpoint?: string;
  /** What `POST /api/v1/demo/traffic` loads (the product page); unset: no demo traffic. */
  demoTrafficUrl?: string;
  /** Interval of topology events on /api/v1/watch. */
  watchIntervalMs?: number;
  /** Observed shares, topology and traces from elsewhere (cluster mode: Prometheus, Jaeger) instead of the proxies. */
  external?: ExternalTelemetry;
}

export interface ControlPlane {
  app: FastifyInstance;
  store: SqliteStore;
  /** Release jobs: create, change traffic, take over, roll back, resume, finish. */
  controller: ReleaseController;
  /** Drives releases with an `analysis` block; promote and abort. */
  analysis: AnalysisRunner;
  /** Services, versions, routes and outlier detection. */
  services: ServiceController;
  feed: RouteTableFeed;
  /** Metrics, topology, traces. */
  telemetry: TelemetryHub;
  /** Where the admin token is stored, or null when it came from an option or the environment. */
  adminTokenFile: string | null;
  /** The bearer tokens: verify, create, list, revoke, and mint in-memory ones (the proxy's credential). */
  tokens: AccessTokens;
  /** Every registered route with the permission it declares (what the access hook checks). */
  routes: RouteAccess[];
  /** Stops the controller, ends watch streams, closes the server and the store. The runtime is the caller's to stop. */
  close(): Promise<void>;
}

/** The control plane: store, release controller, route-table feed and the REST API (not yet listening). */
export async function createControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const t = options.telemetry ?? {};
  // Checked before anything opens: a bad value changes nothing.
  const config = parseControlPlaneConfig({
    logLevel: options.logLevel,
    drainGraceMs: options.drainGraceMs,
    watchPingMs: options.watchPingMs,
    adminActor: options.adminActor,
    controllerActor: options.controllerActor,
    telemetry: { traceSampling: t.traceSampling, watchIntervalMs: t.watchIntervalMs },
  });
  const store = new SqliteStore({ dataDir: options.dataDir });
  const app = Fastify({
    logger: { level: config.logLevel, ...(options.logStream ? { stream: options.logStream } : {}) },
    // Changes are recorded as events; per-request access logs would only repeat the proxies' own.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
  });
  let started = false;
  const otlpEndpoint = t.otlpEndpoint ?? (process.env.CANARY_OTLP_ENDPOINT || undefined);
  let telemetry: TelemetryHub;
  try {
    telemetry = new TelemetryHub({
      dataDir: options.dataDir,
      traceSampling: config.telemetry.traceSampling,
      ...(t.traceMaxAgeMs !== undefined ? { traceMaxAgeMs: t.traceMaxAgeMs } : {}),
      ...(t.traceMaxSpans !== undefined ? { traceMaxSpans: t.traceMaxSpans } : {}),
      ...(otlpEndpoint !== undefined ? { otlpEndpoint } : {}),
      onError: (m) => app.log.warn(m),
    });
  } catch (err) {
    await app.close().catch(() => {});
    store.close();
    throw err;
  }
  try {
    const token = loadAdminToken(options.dataDir, options.adminToken);
    if (token.source === 'generated')
      app.log.info(`admin token created in ${token.file} (mode 0600); clients send it as "Authorization: Bearer <token>"`);
    else if (token.file) app.log.info(`admin token: ${token.file}`);
    else app.log.info(`admin token: from ${token.source === 'env' ? 'CANARY_ADMIN_TOKEN' : 'the adminToken option'}`);
    const { adminActor, controllerActor } = config;
    const tokens = new AccessTokens({
      store,
      bootstrap: { token: token.token, name: adminActor },
      reservedNames: [controllerActor, 'canary-up', 'proxy', 'analysis'],
    });

    const feed = new RouteTableFeed({
      store,
      runtime: options.runtime,
      onError: (err) => app.log.error({ err }, 'route table compile failed'),
    });
    const state = new DesiredState({
      store,
      runtime: options.runtime,
      feed,
      log: { info: (m) => app.log.info(m), warn: (m) => app.log.warn(m), error: (obj, m) => app.log.error(obj, m) },
    });
    const services = new ServiceController(state);
    const controller = new ReleaseController({ state, actor: controllerActor, drainGraceMs: config.drainGraceMs });
    const an = options.analysis ?? {};
    const analysis = new AnalysisRunner({
      store,
      controller,
      metrics: an.metrics ?? new LocalAnalysisMetrics(telemetry.window),
      actor: 'analysis',
      ...(an.ingressUrl !== undefined ? { ingressUrl: an.ingressUrl } : {}),
      ...(an.tickMs !== undefined ? { tickMs: an.tickMs } : {}),
      ...(an.webhookBackoffMs !== undefined ? { webhookBackoffMs: an.webhookBackoffMs } : {}),
      log: { info: (m) => app.log.info(m), warn: (m) => app.log.warn(m), error: (obj, m) => app.log.error(obj, m) },
    });
    const ctx: ApiContext = { store, runtime: options.runtime, controller, services, feed, outliers: telemetry, analysis };

    app.setValidatorCompiler(zodValidatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'Canary Mesh API',
          version: 'v1',
          description: 'Canary releases for HTTP microservices: services, versions, routes, releases, events, route table.',
        },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        security: [{ bearer: [] }],
      },
      transform: jsonSchemaTransform,
      hideUntagged: true,
    });

    app.decorateRequest('actor', '');
    const routes = installAccessControl(app, {
      tokens,
      throttle: new SignInThrottle(options.signInThrottle),
      ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}),
    });

    const notFound = await registerConsole(app, options.consoleDir);
    installErrorHandling(app, notFound);

    // 503 while the store cannot save changes (disk full), so a supervisor or load balancer sees it.
    app.get('/healthz', { schema: { hide: true }, config: { permission: 'public' } }, async (_req, reply) => {
      const problem = store.storageProblem();
      return problem ? reply.status(503).send({ status: 'degraded', reason: problem }) : { status: 'ok' };
    });
    app.get('/api/v1/openapi.json', { schema: { hide: true }, config: { permission: 'read' } }, async () => app.swagger());
    registerTokensApi(app, ctx, tokens);
    registerServicesApi(app, ctx);
    registerReleasesApi(app, ctx);
    registerAnalysisApi(app, analysis);
    registerEventsApi(app, ctx);
    registerRouteTableApi(app, ctx, { pingMs: config.watchPingMs });
    registerTelemetryApi(app, ctx, telemetry, {
      ...(t.demoTrafficUrl !== undefined ? { demoTrafficUrl: t.demoTrafficUrl } : {}),
      watchIntervalMs: config.telemetry.watchIntervalMs,
      ...(t.external ? { external: t.external } : {}),
    });

    await app.ready();
    await controller.start();
    analysis.start();
    started = true;

    let closed = false;
    return {
      app,
      store,
      controller,
      analysis,
      services,
      feed,
      telemetry,
      adminTokenFile: token.file,
      tokens,
      routes,
      async close() {
        if (closed) return;
        closed = true;
        await analysis.close();
        controller.close();
        feed.close();
        await app.close();
        await telemetry.close();
        store.close();
      },
    };
  } finally {
    if (!started) {
      await app.close().catch(() => {});
      await telemetry.close();
      store.close();
    }
  }
}
