import type { SpanData } from './telemetry-batch.js';

type AnyValue = { stringValue: string } | { intValue: string } | { boolValue: boolean };
interface KeyValue {
  key: string;
  value: AnyValue;
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;
const STATUS_UNSET = 0;
const STATUS_ERROR = 2;

const str = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });
const int = (key: string, v: number): KeyValue => ({ key, value: { intValue: String(Math.trunc(v)) } });
const bool = (key: string, v: boolean): KeyValue => ({ key, value: { boolValue: v } });

function nanos(ms: number): string {
  // Milliseconds (fractional) since the epoch -> integer nanoseconds as a decimal string (beyond 2^53).
  const whole = Math.floor(ms);
  const frac = Math.round((ms - whole) * 1e6);
  return `${BigInt(whole) * 1_000_000n + BigInt(frac)}`;
}

/**
 * Spans in the OTLP/HTTP JSON encoding (ExportTraceServiceRequest): one resource per (service, version,
 * instance, host, pid), ids as hex strings, times as nanosecond strings, semantic-convention attributes.
 */
export function toOtlpJson(spans: readonly SpanData[]): { resourceSpans: unknown[] } {
  const byResource = new Map<string, { attributes: KeyValue[]; spans: unknown[] }>();
  for (const s of spans) {
    const key = `${s.service}\u0000${s.version}\u0000${s.instance}\u0000${s.host}\u0000${s.pid}`;
    let r = byResource.get(key);
    if (r === undefined) {
      const attributes = [
        str('service.name', s.service),
        str('service.instance.id', s.instance),
        str('host.name', s.host),
        int('process.pid', s.pid),
      ];
      if (s.version !== '') attributes.push(str('service.version', s.version));
      r = { attributes, spans: [] };
      byResource.set(key, r);
    }
    const attributes: KeyValue[] = [
      str('http.request.method', s.method),
      str('url.path', s.path),
      int('http.response.status_code', s.statusCode),
      str('network.peer.address', s.peerAddress),
      str('canary.peer.service', s.peerService),
      str('canary.response_flags', s.responseFlags),
      bool('canary.retried', s.retried),
      bool('canary.mirrored', s.mirrored),
    ];
    r.spans.push({
      traceId: s.traceId,
      spanId: s.spanId,
      ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
      name: s.name,
      kind: s.kind === 'server' ? SPAN_KIND_SERVER : SPAN_KIND_CLIENT,
      startTimeUnixNano: nanos(s.startTime),
      endTimeUnixNano: nanos(s.startTime + s.durationMs),
      attributes,
      status: s.error ? { code: STATUS_ERROR, message: `HTTP ${s.statusCode}` } : { code: STATUS_UNSET },
    });
  }
  return {
    resourceSpans: [...byResource.values()].map((r) => ({
      resource: { attributes: r.attributes },
      scopeSpans: [{ scope: { name: 'canary-mesh', version: '0.1.0' }, spans: r.spans }],
    })),
  };
}

export interface OtlpExporterOptions {
  /** Collector base URL (`http://127.0.0.1:4318`); `/v1/traces` is appended unless already there. */
  endpoint: string;
  /** Spans per POST; default 512. */
  maxBatch?: number;
  /** Most spans waiting; past it new spans are dropped. Default 20000. */
  maxQueue?: number;
  /** Flush interval; default 1000 ms. */
  intervalMs?: number;
  timeoutMs?: number;
  headers?: Record<string, string>;
  onError?: (message: string) => void;
}

/** Exports spans to an OpenTelemetry collector (Jaeger, Tempo, otelcol) over OTLP/HTTP JSON, in the background. */
export class OtlpExporter {
  readonly url: string;
  private queue: SpanData[] = [];
  private readonly maxBatch: number;
  private readonly maxQueue: number;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly onError: (message: string) => void;
  private readonly timer: NodeJS.Timeout;
  private sending: Promise<void> | null = null;
  private failing = false;
  exported = 0;
  dropped = 0;

  constructor(options: OtlpExporterOptions) {
    const base = options.endpoint.replace(/\/+$/, '');
    this.url = base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
    this.maxBatch = options.maxBatch ?? 512;
    this.maxQueue = options.maxQueue ?? 20_000;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.headers = options.headers ?? {};
    this.onError = options.onError ?? ((m) => process.stderr.write(`otlp: ${m}\n`));
    this.timer = setInterval(() => void this.flush(), options.intervalMs ?? 1000);
    this.timer.unref();
  }

  export(spans: readonly SpanData[]): void {
    const room = this.maxQueue - this.queue.length;
    if (spans.length > room) this.dropped += spans.length - Math.max(0, room);
    if (room > 0) for (let i = 0; i < spans.length && i < room; i++) this.queue.push(spans[i]!);
  }

  /** Sends what is queued now (one POST per `maxBatch` spans); resolves when done. */
  flush(): Promise<void> {
    if (this.sending) return this.sending;
    if (this.queue.length === 0) return Promise.resolve();
    const run = this.sendQueued().finally(() => {
      if (this.sending === run) this.sending = null;
    });
    this.sending = run;
    return run;
  }

  private async sendQueued(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const res = await fetch(this.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...this.headers },
          body: JSON.stringify(toOtlpJson(batch)),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (!res.ok) throw new Error(`the collector answered ${res.status}`);
        this.exported += batch.length;
        if (this.failing) this.onError(`export to ${this.url} works again`);
        this.failing = false;
      } catch (err) {
        this.dropped += batch.length;
        // Log a failure once per outage, not once per batch.
        if (!this.failing) this.onError(`export to ${this.url} failed (spans dropped until it works): ${(err as Error).message}`);
        this.failing = true;
        return;
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
