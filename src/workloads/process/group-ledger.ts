import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signalGroup } from './process-groups.js';

interface LedgerEntry {
  pgid: number;
  instance: string;
}

/**
 * A file in the data directory listing the process groups this runtime has running. Signal and exit handlers
 * cover every ending but SIGKILL of the supervisor itself; the ledger lets the next start kill what such an
 * ending left behind. A group is killed only when its leader still carries our MESH_INSTANCE in its
 * environment, so a recycled pid is never hit.
 */
export class GroupLedger {
  private readonly file: string;
  private readonly entries = new Map<number, LedgerEntry>();

  constructor(dataDir: string) {
    this.file = join(dataDir, 'process-groups.json');
  }

  /** Kills the groups a previous run left; returns the instance names it killed. */
  reapLeftovers(): string[] {
    if (!existsSync(this.file)) return [];
    let old: LedgerEntry[] = [];
    try {
      old = JSON.parse(readFileSync(this.file, 'utf8')) as LedgerEntry[];
    } catch {
      old = [];
    }
    const killed: string[] = [];
    for (const e of Array.isArray(old) ? old : []) {
      if (typeof e?.pgid !== 'number' || typeof e.instance !== 'string') continue;
      if (leaderIsInstance(e.pgid, e.instance) && signalGroup(e.pgid, 'SIGKILL')) killed.push(e.instance);
    }
    this.write();
    return killed;
  }

  add(pgid: number, instance: string): void {
    this.entries.set(pgid, { pgid, instance });
    this.write();
  }

  remove(pgid: number): void {
    if (this.entries.delete(pgid)) this.write();
  }

  private write(): void {
    try {
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, JSON.stringify([...this.entries.values()]), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch {
      // The ledger is a safety net; a read-only data directory must not stop workloads.
    }
  }
}

function leaderIsInstance(pid: number, instance: string): boolean {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    return environ.split('\0').includes(`MESH_INSTANCE=${instance}`);
  } catch {
    return false;
  }
}
