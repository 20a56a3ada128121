import type { Page } from 'playwright-core';
import { ConsolePage } from './console-page.js';

/** The traffic topology: the graph, its calls table, the side panel, the demo traffic switch. */
export class TopologyPage extends ConsolePage {
  constructor(page: Page) {
    super(page);
  }

  demoTraffic() {
    return this.byTest('demo-traffic');
  }

  /** A call (edge) row of the table under the graph, by node ids such as `productpage:v1` and `reviews:v2`. */
  edge(source: string, target: string) {
    return this.page.locator(`[data-test="topology-edge"][data-source="${source}"][data-target="${target}"]`);
  }

  /** Requests per second shown for a call. */
  async edgeRate(source: string, target: string): Promise<number> {
    const text = (await this.edge(source, target).locator('[data-test="edge-rate"]').textContent()) ?? '';
    return Number.parseFloat(text);
  }

  async selectEdge(source: string, target: string): Promise<void> {
    await this.edge(source, target).locator('[data-test="edge-rate"]').click();
  }

  async selectNode(id: string): Promise<void> {
    await this.page.locator(`[data-test="select-node"][data-node="${id}"]`).first().click();
  }

  /** Node ids drawn on the graph's canvas right now. */
  async drawnNodes(): Promise<string[]> {
    return ((await this.byTest('topology-graph').getAttribute('data-rendered-nodes')) ?? '').split(' ').filter(Boolean);
  }

  panelTitle() {
    return this.byTest('panel-title');
  }

  async panelRate(): Promise<number> {
    return Number.parseFloat((await this.byTest('panel-rate').textContent()) ?? '');
  }
}
