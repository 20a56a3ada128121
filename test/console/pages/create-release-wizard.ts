import type { Page } from 'playwright-core';
import { ConsolePage } from './console-page.js';

/** The four-step canary wizard. */
export class CreateReleaseWizard extends ConsolePage {
  constructor(page: Page) {
    super(page);
  }

  async next(): Promise<void> {
    await this.byTest('wizard-next').click();
  }

  async basicInfo(name: string): Promise<void> {
    await this.byTest('release-name').fill(name);
    await this.next();
  }

  async service(service: string): Promise<void> {
    await this.pick('release-service', service);
    await this.next();
  }

  /** The new version; `addresses` for an endpoints workload. */
  async newVersion(version: string, opts: { addresses?: string } = {}): Promise<void> {
    await this.byTest('release-version').fill(version);
    if (opts.addresses) await this.byTest('release-addresses').fill(opts.addresses);
    await this.next();
  }

  async create(): Promise<void> {
    await this.byTest('wizard-create').click();
  }
}
