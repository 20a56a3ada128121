import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';

/**
 * Opening the SQLite files of the data directory safely: the directory 0700 and the files 0600 (also when they
 * existed before, with looser modes), a truncated file refused instead of silently becoming an empty store, and
 * an integrity check before anything reads or writes.
 */

/** A database file that cannot be used as it is; the message names the file and says what to do. */
export class DamagedDatabaseError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    advice: string,
  ) {
    super(`${file}: ${problem}. ${advice}`);
    this.name = 'DamagedDatabaseError';
  }
}

/**
 * Creates the data directory 0700, or tightens an existing one to 0700 and its files to 0600: it holds the
 * admin token and the database. A shared directory (sticky bit, like /tmp) is refused rather than closed to everyone else.
 */
export function prepareDataDir(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  if (!st.isDirectory()) throw new Error(`data directory ${dir}: not a directory`);
  if (st.mode & 0o1000)
    throw new Error(`data directory ${dir}: a shared directory (sticky bit, like /tmp); give the data a directory of its own`);
  if ((st.mode & 0o777) !== 0o700) chmodSync(dir, 0o700); // mkdir's mode is subject to the umask; old dirs may be 0755
  // Files an older version or a copy left readable by others (the admin token, the databases) become 0600.
  for (const name of readdirSync(dir)) {
    const f = lstatSync(join(dir, name));
    if (f.isFile() && (f.mode & 0o077) !== 0) chmodSync(join(dir, name), 0o600);
  }
}

/** `PRAGMA quick_check` over a 50 MB store (100k events) takes ~0.26 s here; integrity_check twice that. */
const CHECK = 'quick_check';

function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT'));
}

/**
 * Opens (or creates, 0600 from the first byte) a SQLite file in WAL mode and checks it. Throws
 * DamagedDatabaseError, with `advice` appended, when the file is empty though it existed (a truncated copy or
 * a full disk at the wrong moment; SQLite writes a header on the first open, so a used file is never empty),
 * is not a database, or fails the integrity check.
 */
export function openDatabaseFile(file: string, advice: string): BetterSqlite3.Database {
  if (existsSync(file)) {
    if (statSync(file).size === 0)
      throw new DamagedDatabaseError(file, 'the file is empty (0 bytes) though the data directory has used it before', advice);
  } else {
    // Created here with its final mode, so it is never readable by others, not even for a moment.
    closeSync(openSync(file, 'wx', 0o600));
  }
  chmodSync(file, 0o600);
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new BetterSqlite3(file);
    db.pragma('journal_mode = WAL');
    const result = db.pragma(CHECK, { simple: false }) as Record<string, string>[];
    const lines = result.map((r) => Object.values(r)[0] ?? '');
    if (!(lines.length === 1 && lines[0] === 'ok')) {
      db.close();
      const shown = lines.slice(0, 3).join('; ');
      throw new DamagedDatabaseError(file, `the database is damaged (${CHECK}: ${shown}${lines.length > 3 ? '; ...' : ''})`, advice);
    }
    // SQLite gives -wal and -shm the main file's mode; older versions of this program left them 0644.
    for (const extra of [`${file}-wal`, `${file}-shm`]) if (existsSync(extra)) chmodSync(extra, 0o600);
    return db;
  } catch (err) {
    if (db?.open) db.close();
    if (err instanceof DamagedDatabaseError) throw err;
    if (isCorruption(err)) throw new DamagedDatabaseError(file, `the database is damaged (${(err as Error).message})`, advice);
    throw err;
  }
}

/** A write failed for lack of space: SQLite's SQLITE_FULL or the file system's ENOSPC (also EDQUOT, a full quota). */
export function isStorageFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT';
}
