import type { Page } from 'playwright-core';
import { ConsolePage } from './console-page.js';

export class ServicesPage extends ConsolePage {
  constructor(page: Page) {
    super(page);
  }

  row(service: string) {
    return this.page.locator(`[data-test="service-row"][data-service="${service}"]`);
  }

  async openService(service: string): Promise<void> {
    await this.row(service).click();
    await this.byTest('service-detail').waitFor();
  }

  versionCard(version: string) {
    return this.page.locator(`[data-test="version-card"][data-version="${version}"]`);
  }

  async openTab(tab: 'versions' | 'routes' | 'istio'): Promise<void> {
    await this.byTest(`tab-${tab}`).click();
  }
}
