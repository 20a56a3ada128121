/** One entry of the append-only event (audit) log: who did what to which resource, with before and after. */
export interface StoredEvent {
  id: number;
  at: string;
  /** The store revision the change was written at. */
  revision: number;
  actor: string;
  /** e.g. `release.created`, `release.taken-over`, `version.added`. */
  action: string;
  resourceKind: 'service' | 'release' | 'token';
  resourceName: string;
  /** The release the change belongs to, if any (a candidate version added by a release names it). */
  release: string | null;
  before: unknown;
  after: unknown;
  message: string;
}

export type NewEvent = Omit<StoredEvent, 'id' | 'at' | 'revision' | 'release'> & { release?: string | null };

export interface EventFilter {
  /** Only events that belong to this release. */
  release?: string;
  /** Only events after this event id (a cursor), or at or after this ISO time. */
  since?: number | string;
  /** At most this many, the newest ones (still returned oldest first). */
  limit?: number;
}
