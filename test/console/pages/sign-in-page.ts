import type { Page } from 'playwright-core';
import { ConsolePage } from './console-page.js';

export class SignInPage extends ConsolePage {
  constructor(page: Page) {
    super(page);
  }

  async open(baseUrl: string): Promise<void> {
    await this.page.goto(`${baseUrl}/`);
    await this.page.waitForURL(/\/sign-in/);
    await this.byTest('token-input').waitFor();
  }

  async signIn(token: string): Promise<void> {
    await this.byTest('token-input').fill(token);
    await this.byTest('sign-in').click();
  }

  error() {
    return this.byTest('sign-in-error');
  }
}
