import type { ExchangeSettings } from './proxy-exchange.js';
import { RequestOutcome } from './request-outcome.js';
import type { ListenerState } from './request-router.js';
import type { ServiceRouter } from './route-snapshot.js';
import type { HopTrace } from './telemetry/proxy-tracer.js';

/**
 * Telemetry of the answers the proxy makes itself (404, 503, refused upgrades): outcomes like any other, built the
 * same way and reported at once, so one outcome object serves every request.
 */
export class OwnAnswerReporter {
  private readonly outcome = new RequestOutcome();

  constructor(
    private readonly settings: ExchangeSettings,
    /** The router's trace scratch (null without a tracer). */
    private readonly hop: HopTrace | null,
  ) {}

  report(
    listener: ListenerState,
    router: ServiceRouter | undefined,
    method: string,
    path: string,
    status: number,
    startedAt: number,
    version: string,
    traceparent: string | undefined,
    peerAddress: string,
  ): void {
    const observer = this.settings.observer;
    if (observer === null) return;
    const outcome = this.outcome;
    outcome.begin(startedAt, false, this.hop);
    outcome.status = status;
    outcome.upstreamFailure = status === 503;
    outcome.report(
      observer,
      listener.source,
      router === undefined ? null : { service: router.name, version, instance: '' },
      method,
      path,
      '',
      traceparent,
      peerAddress,
      status === 404,
    );
  }
}
