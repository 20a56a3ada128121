import type { Locator, Page } from 'playwright-core';

/** What every signed-in page has: the left navigation, the language switch, sign out. */
export class ConsolePage {
  constructor(readonly page: Page) {}

  byTest(id: string): Locator {
    return this.page.locator(`[data-test="${id}"]`);
  }

  async navTo(section: 'services' | 'releases' | 'topology' | 'tracing'): Promise<void> {
    await this.byTest(`nav-${section}`).click();
    await this.page.waitForURL(new RegExp(`/${section}`));
  }

  navLabel(section: 'services' | 'releases' | 'topology' | 'tracing'): Locator {
    return this.byTest(`nav-${section}`);
  }

  async switchLanguage(lang: 'en' | 'zh'): Promise<void> {
    await this.byTest(`lang-${lang}`).click();
  }

  /** Who the header says is signed in: the token's name and role. */
  async signedInAs(): Promise<{ name: string; role: string }> {
    await this.byTest('signed-in-as').waitFor();
    return {
      name: ((await this.byTest('signed-in-name').textContent()) ?? '').trim(),
      role: ((await this.byTest('signed-in-role').textContent()) ?? '').trim(),
    };
  }

  async signOut(): Promise<void> {
    await this.byTest('sign-out').click();
    await this.page.waitForURL(/\/sign-in/);
  }

  /** Picks an option of a Mantine Select whose input carries `data-test`. */
  async pick(test: string, option: string): Promise<void> {
    await this.byTest(test).click();
    await this.page.getByRole('option', { name: option, exact: true }).click();
  }

  async screenshot(dir: string, name: string): Promise<void> {
    await this.page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
  }
}
