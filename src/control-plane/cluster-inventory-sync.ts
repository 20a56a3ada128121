import type { Service, ServiceSpec } from '../core/index.js';
import { type ClusterInventory, FIELD_MANAGER, type KubernetesBackend, MANAGED_BY } from '../kubernetes/index.js';
import type { SqliteStore } from '../store/index.js';
import type { ReleaseController } from './release-controller.js';

export interface ClusterInventorySyncOptions {
  backend: KubernetesBackend;
  store: SqliteStore;
  controller: ReleaseController;
  /** Who the imported changes are recorded as; default `cluster`. */
  actor?: string;
  /** Inventory changes within this window are handled together; default 50 ms. */
  debounceMs?: number;
  log?: { info(msg: string): void; warn(msg: string): void };
}

/**
 * Keeps the store's services and versions equal to what the namespace runs. At start: every Service with
 * versioned Deployments the store lacks is registered, and every version the store lacks is added. Then, as
 * the watches report changes: a Deployment that appears becomes a version, one that disappears is removed
 * (unless a release or the routes use it; then a warning). Deployments Canary Mesh created belong to releases
 * and are not imported into a service the store knows already; a version retired by a finished release whose
 * Deployment is left running (not ours, no --adopt) is not imported again while it keeps running.
 */
export class ClusterInventorySync {
  private previous: Map<string, Set<string>> = new Map();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly actor: string;
  private readonly log: NonNullable<ClusterInventorySyncOptions['log']>;
  private readonly warned = new Set<string>();

  constructor(private readonly options: ClusterInventorySyncOptions) {
    this.actor = options.actor ?? 'cluster';
    this.log = options.log ?? { info() {}, warn() {} };
  }

  /** Imports what the cluster runs now and follows its changes. */
  async start(): Promise<void> {
    this.options.backend.onInventoryChange(() => this.schedule());
    await this.apply(this.options.backend.inventory(), true);
  }

  /** Resolves once the changes seen so far are in the store. */
  async settle(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.running = this.running.then(() => this.apply(this.options.backend.inventory(), false));
    }
    await this.running;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.running.then(() => this.apply(this.options.backend.inventory(), false));
    }, this.options.debounceMs ?? 50);
  }

  private async apply(inventory: ClusterInventory, initial: boolean): Promise<void> {
    if (this.closed) return;
    for (const w of inventory.warnings) {
      if (this.warned.has(w)) continue;
      this.warned.add(w);
      this.log.warn(`cluster: ${w}`);
    }
    const now = new Map(inventory.services.map((s) => [s.name, new Set(s.versions.map((v) => v.name))]));
    for (const spec of inventory.services) {
      try {
        await this.applyService(spec, initial);
      } catch (err) {
        this.log.warn(`cluster: ${spec.name}: ${(err as Error).message}`);
      }
    }
    // Departures: versions the cluster ran before and runs no more.
    if (!initial) {
      for (const [service, versions] of this.previous) {
        for (const version of versions) {
          if (now.get(service)?.has(version)) continue;
          const current = this.options.store.getService(service);
          if (!current?.versions.some((v) => v.name === version)) continue;
          try {
            await this.options.controller.deleteVersion(service, version, this.actor);
            this.log.info(`cluster: ${service} ${version} no longer runs; version removed`);
          } catch (err) {
            this.log.warn(`cluster: ${service} ${version} no longer runs, but ${(err as Error).message}`);
          }
        }
      }
    }
    this.previous = now;
  }

  private async applyService(spec: ServiceSpec, initial: boolean): Promise<void> {
    const { store, controller } = this.options;
    const current: Service | undefined = store.getService(spec.name);
    if (!current) {
      await controller.createService(spec, this.actor);
      this.log.info(`cluster: service ${spec.name} registered with ${spec.versions.map((v) => v.name).join(', ')}`);
      return;
    }
    const seen = this.previous.get(spec.name);
    for (const version of spec.versions) {
      if (current.versions.some((v) => v.name === version.name)) continue;
      if (this.ours(spec.name, version.name)) continue; // a release's candidate, or one being retired
      if (!initial && seen?.has(version.name)) continue; // ran all along: a retired version left running
      await controller.addVersion(spec.name, version, this.actor);
      this.log.info(`cluster: ${spec.name} ${version.name} runs; version added`);
    }
  }

  private ours(service: string, version: string): boolean {
    return this.options.backend.runtime.deploymentOf(service, version)?.metadata.labels?.[MANAGED_BY] === FIELD_MANAGER;
  }
}
