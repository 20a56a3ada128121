import { chmodSync, closeSync, existsSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { migrations } from './migrations.js';

/**
 * `canary backup` and `canary restore`: copies of `<data>/canary.db` made with SQLite's online backup, so a
 * backup is consistent while the control plane runs and writes. Traces (`traces.db`) are not part of it: they
 * are disposable and retention deletes them within a day anyway.
 */

export const storeFileName = 'canary.db';
const ownerFileName = 'control-plane.pid';

/** What a store file holds, as the commands report it. */
export interface StoreSummary {
  file: string;
  bytes: number;
  schemaVersion: number;
  revision: number;
  services: number;
  releases: number;
  events: number;
}

/**
 * Marks the data directory as used by this process until `release()`: `canary restore` refuses to replace the
 * database under a running control plane. A marker left by a process that died is ignored.
 */
export function claimDataDir(dataDir: string): { release(): void } {
  const file = join(dataDir, ownerFileName);
  writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
  return {
    release() {
      try {
        if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file);
      } catch {
        // Already gone.
      }
    },
  };
}

/** The pid of the live process that uses `dataDir`, or null. */
export function dataDirOwner(dataDir: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dataDir, ownerFileName), 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

/** Opens `file` read-only and checks that it is an intact Canary Mesh store this version can run; throws why not. */
function checkStoreFile(file: string): StoreSummary {
  if (!existsSync(file)) throw new Error(`${file}: no such file`);
  const bytes = statSync(file).size;
  if (bytes === 0) throw new Error(`${file}: the file is empty (0 bytes), not a backup`);
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    const check = (db.pragma('quick_check') as Record<string, string>[]).map((r) => Object.values(r)[0]);
    if (!(check.length === 1 && check[0] === 'ok'))
      throw new Error(`${file}: the database is damaged (quick_check: ${check.slice(0, 3).join('; ')})`);
    const tables = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
    for (const t of ['schema_migrations', 'meta', 'services', 'releases', 'events'])
      if (!tables.has(t)) throw new Error(`${file}: not a Canary Mesh store (no table "${t}")`);
    const schemaVersion = (db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
    const latest = Math.max(...migrations.map((m) => m.version));
    if (schemaVersion > latest)
      throw new Error(
        `${file}: written by a newer Canary Mesh (schema ${schemaVersion}, this one knows up to ${latest}); restore it with that version`,
      );
    const count = (table: string) => db!.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
    return {
      file,
      bytes,
      schemaVersion,
      revision: db.prepare("SELECT value FROM meta WHERE key = 'revision'").pluck().get() as number,
      services: count('services'),
      releases: count('releases'),
      events: count('events'),
    };
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB')
      throw new Error(`${file}: not a usable SQLite database (${(err as Error).message})`);
    throw err;
  } finally {
    if (db?.open) db.close();
  }
}

/**
 * Copies the store of `dataDir` to `target` (0600) with SQLite's online backup: safe while a control plane
 * runs. Refuses to overwrite an existing file. Checks the copy before reporting success.
 */
export async function backupStore(dataDir: string, target: string): Promise<StoreSummary> {
  const source = join(resolve(dataDir), storeFileName);
  if (!existsSync(source)) throw new Error(`${source}: no such file; is ${dataDir} the data directory (--data DIR)?`);
  if (existsSync(target)) throw new Error(`${target}: exists already; name a new file (a backup never overwrites one)`);
  closeSync(openSync(target, 'wx', 0o600)); // 0600 before the first byte of data goes in
  const db = new BetterSqlite3(source, { readonly: true, fileMustExist: true });
  try {
    await db.backup(target);
  } catch (err) {
    rmSync(target, { force: true });
    throw err;
  } finally {
    db.close();
  }
  chmodSync(target, 0o600);
  return checkStoreFile(target);
}

/**
 * Replaces the store of `dataDir` with the backup `source`, after checking it. Refuses while a control plane
 * uses the directory. The store it replaces is kept beside it as `canary.db.before-restore-<time>`.
 */
export async function restoreStore(dataDir: string, source: string): Promise<StoreSummary & { previous: string | null }> {
  const dir = resolve(dataDir);
  checkStoreFile(source);
  const owner = dataDirOwner(dir);
  if (owner !== null)
    throw new Error(
      `a control plane (pid ${owner}) is using ${dir}: stop it first (Ctrl-C on canary up), then restore; ` +
        `if none runs, delete ${join(dir, ownerFileName)}`,
    );
  if (!existsSync(dir)) throw new Error(`${dir}: no such directory; is it the data directory (--data DIR)?`);
  const target = join(dir, storeFileName);
  const tmp = `${target}.restoring`;
  rmSync(tmp, { force: true });
  closeSync(openSync(tmp, 'wx', 0o600));
  const db = new BetterSqlite3(source, { readonly: true, fileMustExist: true });
  try {
    await db.backup(tmp);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  } finally {
    db.close();
  }
  checkStoreFile(tmp);
  // The current store goes aside with its WAL, which may hold its latest commits.
  let previous: string | null = null;
  if (existsSync(target)) {
    previous = `${target}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    renameSync(target, previous);
    for (const extra of ['-wal', '-shm']) if (existsSync(target + extra)) renameSync(target + extra, previous + extra);
  }
  renameSync(tmp, target);
  chmodSync(target, 0o600);
  return { ...checkStoreFile(target), previous };
}
