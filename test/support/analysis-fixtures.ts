import type { Server } from 'node:http';
import { afterEach, expect } from 'vitest';
import { BYTES_SLOTS, durationSlot, type EdgeSample, TelemetryBatch } from '../../src/telemetry-wire/index.js';
import { reviewsService, startTestControlPlane, type TestControlPlane } from './test-harness.js';

/** `count` calls from productpage v1 to reviews `version`, answered `code`, each taking `ms`. */
export function reviewsEdge(version: string, code: number, count: number, ms = 5): EdgeSample {
  return {
    source: { service: 'productpage', version: 'v1', instance: 'productpage-v1-1' },
    destination: { service: 'reviews', version, instance: `reviews-${version}-1` },
    code,
    flags: 0,
    count,
    durationSumMs: ms * count,
    durationSlots: [durationSlot(ms), count],
    bytesInSum: 0,
    bytesInBuckets: new Array(BYTES_SLOTS).fill(0),
    bytesOutSum: 0,
    bytesOutBuckets: new Array(BYTES_SLOTS).fill(0),
  };
}

/** A proxy's batch of the last 100 ms: `ok` answers 200 and `failed` answers 500 from reviews `version`. */
export function reviewsBatch(version: string, ok: number, failed = 0, ms = 5): TelemetryBatch {
  const edges = [...(ok > 0 ? [reviewsEdge(version, 200, ok, ms)] : []), ...(failed > 0 ? [reviewsEdge(version, 500, failed, ms)] : [])];
  return TelemetryBatch.parse({ proxy: { id: 'p', host: 'h', pid: 1 }, start: Date.now() - 100, end: Date.now(), edges, spans: [] });
}

/**
 * An in-process control plane with a fast analysis runner (50 ms ticks) and the reviews service, plus the feeds
 * and servers a test starts; all stopped after each test (registers its own afterEach).
 */
export function useAnalysisControlPlane() {
  let cp: TestControlPlane | null = null;
  const feeds: NodeJS.Timeout[] = [];
  const servers: Server[] = [];
  afterEach(async () => {
    for (const t of feeds.splice(0)) clearInterval(t);
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    await cp?.destroy();
    cp = null;
  });
  /** `withService: false` for a restart on a data directory that has it already. */
  async function start(opts: Parameters<typeof startTestControlPlane>[0] = {}, withService = true): Promise<TestControlPlane> {
    cp = await startTestControlPlane({
      analysis: { tickMs: 50, webhookBackoffMs: 20 },
      logLevel: (process.env.CP_LOG as 'info') ?? 'silent',
      ...opts,
    });
    if (withService) expect((await cp.call('POST', '/api/v1/services', reviewsService)).status).toBe(201);
    return cp;
  }
  return { start, feeds, servers };
}

/** Creates the reviews-canary release (candidate v2) with this `analysis` block; the API's answer. */
export function createAnalysisRelease(t: TestControlPlane, analysis: object) {
  return t.call('POST', '/api/v1/releases', { name: 'reviews-canary', service: 'reviews', candidate: { name: 'v2' }, analysis });
}
