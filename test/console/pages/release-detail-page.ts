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

  /** Blue-green: a version's card and the role it shows (`live`, `standby`, `idle`). */
  blueGreenCard(version: string) {
    return this.page.locator(`[data-test="bg-version"][data-version="${version}"]`);
  }

  async blueGreenRole(version: string): Promise<string | null> {
    return this.blueGreenCard(version).getAttribute('data-role');
  }

  async switchTo(): Promise<string> {
    await this.byTest('bg-switch').click();
    return this.confirm();
  }

  async switchBack(): Promise<string> {
    await this.byTest('bg-switch-back').click();
    return this.confirm();
  }

  /** The preview curl after pointing it at `ingress`. */
  async previewCommand(ingress: string): Promise<string> {
    await this.byTest('preview-ingress').fill(ingress);
    return ((await this.byTest('preview-curl').textContent()) ?? '').trim();
  }

  /** Mirror: the differences table as shown. */
  async differences(): Promise<{ kind: string; field: string; primary: string; mirror: string; count: number }[]> {
    const rows = this.byTest('difference');
    const out = [];
    for (const row of await rows.all()) {
      const text = async (id: string) => ((await row.locator(`[data-test="${id}"]`).textContent()) ?? '').trim();
      out.push({
        kind: (await row.getAttribute('data-kind')) ?? '',
        field: await text('difference-field'),
        primary: await text('difference-primary'),
        mirror: await text('difference-mirror'),
        count: Number(await text('difference-count')),
      });
    }
    return out;
  }

  async selectDifference(kind: string): Promise<void> {
    await this.page.locator(`[data-test="difference"][data-kind="${kind}"]`).first().click();
  }

  async mirrorTakeOver(): Promise<string> {
    await this.byTest('mirror-takeover').click();
    return this.confirm();
  }
}
