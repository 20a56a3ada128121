import type { AnalysisPlan } from '../core/analysis/index.js';
import type { Release } from '../core/index.js';
import { TrafficGenerator } from '../telemetry/traffic-generator.js';

/** The `analysis.load` of running analyses: one traffic generator per release, sent through the mesh ingress. */
export class SyntheticLoad {
  private readonly loads = new Map<string, TrafficGenerator>();

  /** @param ingressUrl the mesh ingress (`http://127.0.0.1:8000`); unset: no load is ever sent. */
  constructor(private readonly ingressUrl: string | undefined) {}

  /** Releases that have load running now. */
  names(): IterableIterator<string> {
    return this.loads.keys();
  }

  /** Starts the release's load when its plan asks for one and it is not running yet. */
  ensure(r: Release, plan: AnalysisPlan): void {
    if (!plan.load || this.loads.has(r.name) || !this.ingressUrl) return;
    const g = new TrafficGenerator({
      url: `${this.ingressUrl.replace(/\/+$/, '')}${plan.load.path}`,
      rate: plan.load.rate,
      headers: { host: r.service, 'x-canary-load': r.name },
    });
    g.start();
    this.loads.set(r.name, g);
  }

  stop(name: string): void {
    const g = this.loads.get(name);
    if (!g) return;
    this.loads.delete(name);
    void g.stop();
  }

  /** Stops every load and waits until the generators have. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.loads.values()].map((g) => g.stop()));
    this.loads.clear();
  }
}
