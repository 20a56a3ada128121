import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

/**
 * The analysis benchmark's end-to-end run: `canary up --demo bookinfo` in this process (real proxy and workload
 * processes), product pages at ~20 req/s, a reviews candidate with FAULT_RATE=0.3 released at a 20 % first step
 * with the analysis; how long after the candidate's first request the analysis rolled it back, and how many
 * product pages lost their reviews meanwhile.
 */
export interface AnalysisDemoResult {
  secondsToRollback: number;
  pagesLosingReviews: number;
  pages: number;
  message: string;
}

export async function runAnalysisDemo(): Promise<AnalysisDemoResult> {
  const { startUp } = await import('../control-plane/up.js');
  const dir = mkdtempSync(join(tmpdir(), 'canary-bench-analysis-'));
  const token = `bench-analysis-${process.pid}-0123456789`;
  const saved = process.env.CANARY_ADMIN_TOKEN;
  process.env.CANARY_ADMIN_TOKEN = token;
  const up = await startUp({ dataDir: dir, host: '127.0.0.1', port: 0, ingressPort: await freePort(), demo: 'bookinfo', log: () => {} });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const page = `${up.ingressUrl}/productpage?u=normal`;
  const seen: { at: number; lost: boolean; v2: boolean }[] = [];
  let timer: NodeJS.Timeout | null = null;
  const inFlight = new Set<Promise<void>>();
  try {
    const deadline = Date.now() + 60_000;
    while (
      (await fetch(page)
        .then((r) => r.status)
        .catch(() => 0)) !== 200
    ) {
      if (Date.now() > deadline) throw new Error('the demo did not serve its product page within 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    timer = setInterval(() => {
      const p = fetch(page)
        .then(async (r) => {
          const body = await r.text();
          seen.push({
            at: Date.now(),
            lost: r.status !== 200 || body.includes('reviews are currently unavailable'),
            v2: body.includes('reviews-v2-'),
          });
        })
        .catch(() => {
          seen.push({ at: Date.now(), lost: true, v2: false });
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }, 50);
    const created = await fetch(`${up.url}/api/v1/releases`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        name: 'reviews-canary',
        service: 'reviews',
        baseline: 'v1',
        candidate: { name: 'v2', workload: { env: { SERVICE_VERSION: 'v2', FAULT_RATE: '0.3' } } },
        analysis: {
          interval: '2s',
          steps: [{ setWeight: 20 }, { pause: { duration: '1m' } }, { setWeight: 100 }],
          checks: [
            { metric: 'successRate', min: 99 },
            { metric: 'latencyP99', maxMs: 500 },
          ],
        },
      }),
    });
    if (created.status !== 201) throw new Error(`creating the release answered ${created.status}: ${await created.text()}`);
    const until = Date.now() + 120_000;
    let message = '';
    for (;;) {
      const r = (await (await fetch(`${up.url}/api/v1/releases/reviews-canary`, { headers })).json()) as {
        status: { analysis?: { state: string; message: string } };
      };
      if (r.status.analysis?.state === 'failed') {
        message = r.status.analysis.message;
        break;
      }
      if (Date.now() > until) throw new Error(`no rollback within 120 s: ${r.status.analysis?.message ?? 'no analysis status'}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    const rolledBackAt = Date.now();
    await new Promise((r) => setTimeout(r, 2000));
    clearInterval(timer);
    timer = null;
    await Promise.all([...inFlight]);
    const first = seen.find((s) => s.v2 || s.lost);
    return {
      secondsToRollback: first ? Math.round((rolledBackAt - first.at) / 100) / 10 : Number.NaN,
      pagesLosingReviews: seen.filter((s) => s.lost).length,
      pages: seen.length,
      message,
    };
  } finally {
    if (timer) clearInterval(timer);
    await Promise.all([...inFlight]);
    await up.stop();
    if (saved === undefined) delete process.env.CANARY_ADMIN_TOKEN;
    else process.env.CANARY_ADMIN_TOKEN = saved;
    rmSync(dir, { recursive: true, force: true });
  }
}
