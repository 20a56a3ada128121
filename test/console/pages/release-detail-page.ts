import type { Page } from 'playwright-core';
import { ConsolePage } from './console-page.js';

export class ReleaseDetailPage extends ConsolePage {
  constructor(page: Page) {
    super(page);
  }

  title() {
    return this.byTest('release-title');
  }

  phase() {
    return this.byTest('release-phase');
  }

  configuredShare(version: string) {
    return this.page.locator(`[data-test="version-share"][data-version="${version}"] [data-test="configured-share"]`);
  }

  /** Points the share chart draws: all of them, and those loaded from the observed history (the past). */
  async chartPoints(): Promise<{ all: number; history: number }> {
    const chart = this.byTest('share-history');
    return { all: Number(await chart.getAttribute('data-samples')), history: Number(await chart.getAttribute('data-history-points')) };
  }

  /** Picks the chart's time range by its label (`60 min`). */
  async chartRange(label: string): Promise<void> {
    await this.byTest('share-range').getByText(label, { exact: true }).click();
  }

  /** Opens the action's confirmation, returns its text, and confirms. */
  private async confirm(): Promise<string> {
    const modal = this.page.getByRole('dialog');
    await modal.waitFor();
    const text = (await modal.textContent()) ?? '';
    await this.byTest('confirm-ok').click();
    await modal.waitFor({ state: 'detached' });
    return text;
  }

  async takeOver(version: string): Promise<string> {
    await this.page.locator(`[data-test="takeover"][data-version="${version}"]`).click();
    return this.confirm();
  }

  async rollBack(): Promise<string> {
    await this.byTest('rollback').click();
    return this.confirm();
  }

  async resume(): Promise<string> {
    await this.byTest('resume').click();
    return this.confirm();
  }

  async finishKeeping(version: string): Promise<string> {
    await this.byTest('finish').click();
    await this.pick('finish-keep', version);
    return this.confirm();
  }
}
