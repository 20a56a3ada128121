import type { Page } from 'playwright-core';
import { ConsolePage } from './console-page.js';

/** The tracing page: the search form, the trace list, a trace's waterfall and a span's attributes. */
export class TracingPage extends ConsolePage {
  constructor(page: Page) {
    super(page);
  }

  async search(opts: { service?: string } = {}): Promise<void> {
    if (opts.service) await this.pick('trace-service', opts.service);
    await this.byTest('trace-search').click();
  }

  /** Trace rows; with `through`, only those whose trace passed through every service named. */
  rows(through: string[] = []) {
    return this.page.locator(`[data-test="trace-row"]${through.map((s) => `[data-services~="${s}"]`).join('')}`);
  }

  waterfall() {
    return this.byTest('trace-detail');
  }

  spans(service?: string) {
    return this.waterfall().locator(`[data-test="span-row"]${service ? `[data-service="${service}"]` : ''}`);
  }

  /** The selected span's attributes as shown (name -> value). */
  async attributes(): Promise<Record<string, string>> {
    const rows = this.byTest('span-attributes').locator('tr');
    const out: Record<string, string> = {};
    for (const row of await rows.all()) {
      const cells = row.locator('td');
      out[((await cells.nth(0).textContent()) ?? '').trim()] = ((await cells.nth(1).textContent()) ?? '').trim();
    }
    return out;
  }
}
