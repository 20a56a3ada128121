import type { RouteTable } from '../core/index.js';

/** Where a proxy's route tables come from: a static file, or the control plane's watch stream. */
export interface RouteSource {
  /**
   * Starts delivering tables to `apply` (each one newer than the last). Resolves once the first table has been
   * applied, or, for sources that may be away, once the first attempt is over; rejects when the source is
   * unusable (e.g. the static file is invalid).
   */
  start(apply: (table: RouteTable) => Promise<void>): Promise<void>;
  close(): Promise<void>;
  /** Human description for log lines, e.g. `file ./routes.yaml`. */
  readonly description: string;
}
