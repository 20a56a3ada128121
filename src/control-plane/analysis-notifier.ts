import { analysisPlan, type WebhookKind } from '../core/analysis/index.js';
import type { Release } from '../core/index.js';
import { callWebhook, type Webhook, type WebhookOutcome, type WebhookPayload } from './analysis-webhooks.js';

export interface AnalysisNotifierOptions {
  /** First retry delay of webhooks; unset: analysis-webhooks.ts's default. */
  backoffMs?: number;
  /** Keeps a fire-and-forget call in the runner's pending work, so closing waits for it. */
  track(p: Promise<unknown>): void;
  warn(msg: string): void;
}

/** The analysis runner's webhook calls: the gates it waits for (preRollout, confirmPromotion) and the notifications. */
export class AnalysisNotifier {
  constructor(private readonly options: AnalysisNotifierOptions) {}

  /** Calls one gate webhook (retried) about release `r` and returns its outcome. */
  call(hook: Webhook, r: Release, type: WebhookKind, event: string, message: string): Promise<WebhookOutcome> {
    return callWebhook(hook, this.payload(r, type, event, message), this.backoff());
  }

  /** Fire-and-forget webhooks of one kind (rollback, event); a failure is logged, never blocks the release. */
  notify(r: Release, kind: 'rollback' | 'event', event: string, message: string): void {
    if (!r.analysis) return;
    for (const hook of analysisPlan(r.analysis).webhooks.filter((h) => h.on === kind)) {
      const p = callWebhook(hook, this.payload(r, kind, event, message), this.backoff()).then((out) => {
        if (!out.ok) this.options.warn(`${kind} webhook "${hook.name}" of release "${r.name}" failed: ${out.error}`);
      });
      this.options.track(p);
    }
  }

  private payload(r: Release, type: WebhookKind, event: string, message: string): WebhookPayload {
    const a = r.status.analysis;
    return {
      type,
      event,
      release: r.name,
      service: r.service,
      baseline: r.baseline,
      candidate: r.candidate.name,
      phase: r.status.phase,
      step: a?.step ?? 0,
      weight: a?.weight ?? 0,
      verdict: a?.verdict ?? null,
      message,
      at: new Date().toISOString(),
    };
  }

  private backoff() {
    return this.options.backoffMs === undefined ? {} : { backoffMs: this.options.backoffMs };
  }
}
