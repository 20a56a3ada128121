import type { Page } from 'playwright-core';
import { ConsolePage } from './console-page.js';

/** The grayscale release page: mode cards and the job list. */
export class ReleasesPage extends ConsolePage {
  constructor(page: Page) {
    super(page);
  }

  modeCard(mode: 'canary' | 'blueGreen' | 'mirror') {
    return this.byTest(`mode-${mode}`);
  }

  async startCanary(): Promise<void> {
    await this.byTest('mode-canary-create').click();
    await this.page.waitForURL(/\/releases\/new/);
  }

  /** Opens the wizard from a mode card. */
  async startMode(mode: 'canary' | 'blueGreen' | 'mirror'): Promise<void> {
    await this.byTest(`mode-${mode}-create`).click();
    await this.page.waitForURL(/\/releases\/new/);
  }

  async openJobs(): Promise<void> {
    await this.byTest('tab-jobs').click();
  }

  row(release: string) {
    return this.page.locator(`[data-test="release-row"][data-release="${release}"]`);
  }
}
