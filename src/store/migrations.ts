import type { Database } from 'better-sqlite3';

/**
 * Numbered schema migrations. Each runs once, in order, inside a transaction, and is recorded in
 * `schema_migrations`. Append new ones; never edit one that has shipped.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'resources and events',
    sql: `
      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      );
      INSERT INTO meta (key, value) VALUES ('revision', 0), ('route_table_revision', 0);
      CREATE TABLE services (
        name TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        resource_version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        created_by TEXT NOT NULL
      );
      CREATE TABLE releases (
        name TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        spec TEXT NOT NULL,
        status TEXT NOT NULL,
        resource_version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        created_by TEXT NOT NULL
      );
      -- One active release per service; finished releases are deleted (their events stay).
      CREATE UNIQUE INDEX releases_one_per_service ON releases (service);
      CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        revision INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        resource_kind TEXT NOT NULL,
        resource_name TEXT NOT NULL,
        release TEXT,
        before TEXT,
        after TEXT,
        message TEXT NOT NULL
      );
      CREATE INDEX events_by_release ON events (release, id);
      CREATE INDEX events_by_resource ON events (resource_kind, resource_name, id);
    `,
  },
  {
    version: 2,
    name: 'retired versions left running (cluster mode)',
    sql: `
      -- A version retired through Canary Mesh whose Deployment it may not delete (not created by it, no --adopt):
      -- remembered so that the cluster import does not bring it back, as long as that very Deployment (uid) runs.
      CREATE TABLE retired_versions (
        service TEXT NOT NULL,
        version TEXT NOT NULL,
        deployment TEXT NOT NULL,
        uid TEXT NOT NULL,
        retired_at TEXT NOT NULL,
        PRIMARY KEY (service, version)
      );
    `,
  },
  {
    version: 3,
    name: 'access tokens',
    sql: `
      -- Bearer tokens besides the bootstrap admin token. A token is "canary_<id>_<secret>": the id finds the row,
      -- the secret is kept only as HMAC-SHA256 keyed with a per-token random salt (never in clear).
      CREATE TABLE tokens (
        name TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        salt TEXT NOT NULL,
        hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        expires_at TEXT
      );
    `,
  },
];

/** Applies the migrations the database has not seen yet; returns the schema version reached. */
export function migrate(db: Database, list: Migration[] = migrations): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  let reached = applied.size === 0 ? 0 : Math.max(...applied);
  for (const m of [...list].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, new Date().toISOString());
    })();
    reached = Math.max(reached, m.version);
  }
  return reached;
}
