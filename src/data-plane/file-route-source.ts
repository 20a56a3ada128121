import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { InputError } from '../core/errors.js';
import type { RouteTable } from '../core/route-table.js';
import { consoleProxyLogger, type ProxyLogger } from './proxy-logger.js';
import type { ProxyLimits } from './proxy-settings.js';
import type { RouteSource } from './route-source.js';

/**
 * Parses, validates and compiles a static route file's text into a route table and the limits of its `proxy:`
 * block; throws InputError naming the field. The proxy's entry point hands in src/route-file's, which runs the
 * parser and the compiler outside the proxy process (docs/adr/0006-lean-proxy-process.md).
 */
export type RouteFileCompiler = (text: string, revision: number) => Promise<{ table: RouteTable; proxy: Partial<ProxyLimits> }>;

export interface FileRouteSourceOptions {
  compile: RouteFileCompiler;
  /** Reload when the file changes (an invalid edit is logged and the last good table stays). Default true. */
  watch?: boolean;
  logger?: ProxyLogger;
}

/** Route tables from a static YAML file; `reload()` (SIGHUP in `canary proxy`) or a file change re-reads it. */
export class FileRouteSource implements RouteSource {
  readonly description: string;
  private revision = 0;
  private watcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private apply: ((table: RouteTable) => Promise<void>) | null = null;
  private lastText = '';
  private reloading: Promise<void> = Promise.resolve();
  private readonly logger: ProxyLogger;
  /** The limits the file's `proxy:` block sets, as of the last load (empty without one). */
  proxyLimits: Partial<ProxyLimits> = {};

  constructor(
    private readonly path: string,
    private readonly options: FileRouteSourceOptions,
  ) {
    this.description = `file ${path}`;
    this.logger = options.logger ?? consoleProxyLogger;
  }

  /** Reads and compiles the file; throws InputError with the file name and the offending field. */
  async load(): Promise<RouteTable> {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      throw new InputError(`${this.path}: cannot read the route file: ${(err as Error).message}`);
    }
    try {
      const { table, proxy } = await this.options.compile(text, this.revision + 1);
      this.revision++;
      this.lastText = text;
      this.proxyLimits = proxy;
      return table;
    } catch (err) {
      if (err instanceof InputError) {
        throw new InputError(`${this.path}: ${err.message}`, err.details);
      }
      throw err;
    }
  }

  async start(apply: (table: RouteTable) => Promise<void>): Promise<void> {
    await apply(await this.load());
    // Reloads (SIGHUP, file changes) start only now, so none can overlap the first load.
    this.apply = apply;
    if (this.options.watch ?? true) {
      this.watcher = watch(this.path, { persistent: false }, () => {
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => void this.reloadIfChanged(), 100);
      });
      this.watcher.on('error', () => undefined);
    }
  }

  /**
   * Re-reads the file and applies it; on error logs why and keeps the table in force. Reloads run one after
   * another (a compile takes a child process's time), so an older edit can never be applied after a newer one.
   */
  reload(): Promise<boolean> {
    const run = this.reloading.then(() => this.reloadNow());
    this.reloading = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async reloadNow(): Promise<boolean> {
    if (!this.apply) return false;
    try {
      const table = await this.load();
      await this.apply(table);
      this.logger.info(`${this.path}: applied revision ${table.revision}`);
      return true;
    } catch (err) {
      this.logger.error(`${(err as Error).message} (keeping revision ${this.revision})`);
      return false;
    }
  }

  private async reloadIfChanged(): Promise<void> {
    let text = '';
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return;
    }
    if (text !== this.lastText) await this.reload();
  }

  async close(): Promise<void> {
    if (this.debounce) clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = null;
    this.apply = null;
  }
}
