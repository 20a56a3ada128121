import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OrphanWatchdog } from './orphan-watchdog.js';
import { groupAlive, processStartTime, signalGroup } from './process-groups.js';

/** What a ledger entry is: a workload instance, the mesh proxy of `canary up`, the run's watchdog, or `canary up` itself. */
export type LedgerKind = 'instance' | 'proxy' | 'watchdog' | 'supervisor';

export interface LedgerEntry {
  /** The process group (its leader's pid: every process we start leads its own group). */
  pgid: number;
  /** Instance name (reviews-v1-1), `proxy` or `watchdog`. */
  name: string;
  kind: LedgerKind;
  /** The leader's start time (processStartTime): with the pid, names exactly one process. */
  started: string | null;
  /** The run that started it (one per supervisor process). */
  run: string;
}

export interface GroupLedgerOptions {
  /**
   * When set, a watchdog process ends this run's groups that long after the supervisor dies unseen (SIGKILL),
   * unless a successor on the same data directory stopped them first. Started with the first group.
   */
  orphanGraceMs?: number;
}

/**
 * A file in the data directory listing the process groups the supervisor has running: workload instances, the
 * proxy, the watchdog. Signal and exit handlers cover every ending but a SIGKILL of the supervisor itself; for
 * that the watchdog ends the run's groups after a grace, and the next start on the same data directory finds
 * what is left (`leftovers()`) and stops it (`stopLeftovers()`), or kills it at once (`reapLeftovers()`).
 * A group is signalled only while its leader is the very process recorded (same pid, same start time), so a
 * recycled pid is never hit, and never anything found by name.
 */
export class GroupLedger {
  readonly file: string;
  /** This supervisor's run. */
  readonly run = randomUUID();
  private readonly entries = new Map<number, LedgerEntry>();
  /** Groups earlier runs left that still run: kept in the file until stopped, in case this run dies too. */
  private readonly previous = new Map<number, LedgerEntry>();
  private watchdog: OrphanWatchdog | null = null;

  constructor(
    dataDir: string,
    private readonly options: GroupLedgerOptions = {},
  ) {
    this.file = join(dataDir, 'process-groups.json');
    for (const e of readEntries(this.file)) if (isStillRunning(e)) this.previous.set(e.pgid, e);
    this.write();
  }

  /**
   * Groups of earlier runs still running (checked by pid and start time when the ledger was opened), and an
   * earlier `canary up` itself if it still runs (kind `supervisor`: never signalled here).
   */
  leftovers(): LedgerEntry[] {
    return [...this.previous.values()];
  }

  /** Kills every leftover group at once; returns those it killed. */
  reapLeftovers(): LedgerEntry[] {
    const killed: LedgerEntry[] = [];
    for (const e of this.leftovers()) {
      if (e.kind !== 'supervisor' && isStillRunning(e) && signalGroup(e.pgid, 'SIGKILL')) killed.push(e);
      this.previous.delete(e.pgid);
    }
    this.write();
    return killed;
  }

  /** Stops the given leftovers: SIGTERM, up to `graceMs` for them to go, then SIGKILL. */
  async stopLeftovers(entries: readonly LedgerEntry[], graceMs: number): Promise<void> {
    const live = entries.filter((e) => e.kind !== 'supervisor' && isStillRunning(e) && signalGroup(e.pgid, 'SIGTERM'));
    const deadline = Date.now() + graceMs;
    let left = live;
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      left = left.filter((e) => isStillRunning(e) && groupAlive(e.pgid));
    }
    for (const e of left) if (isStillRunning(e)) signalGroup(e.pgid, 'SIGKILL');
    for (const e of entries) this.previous.delete(e.pgid);
    this.write();
  }

  add(pgid: number, name: string, kind: LedgerKind = 'instance'): void {
    this.entries.set(pgid, { pgid, name, kind, started: processStartTime(pgid), run: this.run });
    if (this.watchdog === null && this.options.orphanGraceMs !== undefined && kind !== 'watchdog' && kind !== 'supervisor') {
      this.watchdog = new OrphanWatchdog(this.file, this.run, this.options.orphanGraceMs);
      if (this.watchdog.pid !== null) {
        this.entries.set(this.watchdog.pid, {
          pgid: this.watchdog.pid,
          name: 'watchdog',
          kind: 'watchdog',
          started: processStartTime(this.watchdog.pid),
          run: this.run,
        });
      }
    }
    this.write();
  }

  remove(pgid: number): void {
    if (this.entries.delete(pgid)) this.write();
  }

  /** An orderly end: the supervisor stopped its groups itself, so the watchdog goes. */
  release(): void {
    const w = this.watchdog;
    this.watchdog = null;
    if (w === null) return;
    w.release();
    if (w.pid !== null) this.remove(w.pid);
  }

  private write(): void {
    try {
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, JSON.stringify([...this.previous.values(), ...this.entries.values()]), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch {
      // The ledger is a safety net; a read-only data directory must not stop workloads.
    }
  }
}

function readEntries(file: string): LedgerEntry[] {
  if (!existsSync(file)) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return [];
  }
  if (!Array.isArray(raw)) return [];
  const out: LedgerEntry[] = [];
  for (const e of raw as Record<string, unknown>[]) {
    if (typeof e?.pgid !== 'number' || !Number.isInteger(e.pgid) || e.pgid <= 1) continue;
    // Entries of the ledger's first form ({pgid, instance}) carry no start time: checked by environment instead.
    const name = typeof e.name === 'string' ? e.name : typeof e.instance === 'string' ? e.instance : null;
    if (name === null) continue;
    const kind: LedgerKind = e.kind === 'proxy' || e.kind === 'watchdog' || e.kind === 'supervisor' ? e.kind : 'instance';
    out.push({ pgid: e.pgid, name, kind, started: typeof e.started === 'string' ? e.started : null, run: String(e.run ?? '') });
  }
  return out;
}

/** Whether the entry's leader is still the process recorded. */
function isStillRunning(e: LedgerEntry): boolean {
  if (e.started !== null) return processStartTime(e.pgid) === e.started;
  return leaderIsInstance(e.pgid, e.name);
}

function leaderIsInstance(pid: number, instance: string): boolean {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    return environ.split('\0').includes(`MESH_INSTANCE=${instance}`);
  } catch {
    return false;
  }
}
