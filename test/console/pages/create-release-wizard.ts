import type { Page } from 'playwright-core';
import { ConsolePage } from './console-page.js';

/** The four-step wizard; its last step depends on the mode card that opened it. */
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

  /** The new version; `addresses` for an endpoints workload, `env` overrides for a process workload. */
  async newVersion(version: string, opts: { addresses?: string; env?: Record<string, string> } = {}): Promise<void> {
    await this.byTest('release-version').fill(version);
    if (opts.addresses) await this.byTest('release-addresses').fill(opts.addresses);
    for (const [key, value] of Object.entries(opts.env ?? {})) await this.setEnv(key, value);
    await this.next();
  }

  /** Sets an environment override, reusing the row that has this name (e.g. the pre-filled SERVICE_VERSION). */
  async setEnv(key: string, value: string): Promise<void> {
    const keys = this.byTest('env-key');
    const n = await keys.count();
    for (let i = 0; i < n; i++) {
      if ((await keys.nth(i).inputValue()) === key) {
        await this.byTest('env-value').nth(i).fill(value);
        return;
      }
    }
    await this.byTest('env-add').click();
    await keys.nth(n).fill(key);
    await this.byTest('env-value').nth(n).fill(value);
  }

  /** The environment overrides as the form holds them. */
  async envValues(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const n = await this.byTest('env-key').count();
    for (let i = 0; i < n; i++) out[await this.byTest('env-key').nth(i).inputValue()] = await this.byTest('env-value').nth(i).inputValue();
    return out;
  }

  /** The mirror step: share copied and what the comparison ignores (comma separated). */
  async mirrorSettings(opts: {
    percent?: number;
    compareBody?: boolean;
    compareHeaders?: string;
    ignoreHeaders?: string;
    ignoreJsonPaths?: string;
    maxBodyKiB?: number;
  }): Promise<void> {
    if (opts.percent !== undefined) await this.byTest('mirror-percent').fill(String(opts.percent));
    if (opts.compareBody !== undefined && (await this.byTest('mirror-compare-body').isChecked()) !== opts.compareBody) {
      await this.byTest('mirror-compare-body').click();
    }
    if (opts.compareHeaders !== undefined) await this.byTest('mirror-compare-headers').fill(opts.compareHeaders);
    if (opts.ignoreHeaders !== undefined) await this.byTest('mirror-ignore-headers').fill(opts.ignoreHeaders);
    if (opts.ignoreJsonPaths !== undefined) await this.byTest('mirror-ignore-json').fill(opts.ignoreJsonPaths);
    if (opts.maxBodyKiB !== undefined) await this.byTest('mirror-max-body').fill(String(opts.maxBodyKiB));
  }

  async create(): Promise<void> {
    await this.byTest('wizard-create').click();
  }
}
