import { existsSync, readdirSync, readFileSync } from 'node:fs';

/**
 * Signals to whole process groups. Every instance is spawned detached (its own session and process group,
 * pgid = pid), so a signal to -pid reaches the instance and every child it started.
 */

/** Sends `signal` to the process group `pgid`; false when the group no longer exists. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether any process of the group `pgid` is still running. On Linux it reads /proc so that a zombie (an
 * exited child not yet reaped, as happens while an exit handler blocks the event loop) does not count.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  if (!existsSync('/proc/self/stat')) return true;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const e of entries) {
    if (e.charCodeAt(0) < 48 || e.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

/** Sleeps synchronously: only for exit handlers, where the event loop no longer runs. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Stops groups synchronously, for signal and exit handlers: SIGTERM to all, up to `graceMs` for them to go,
 * then SIGKILL to whatever is left. Returns the groups that had to be killed.
 */
export function stopGroupsSync(pgids: readonly number[], graceMs: number): number[] {
  const live = pgids.filter((g) => signalGroup(g, 'SIGTERM'));
  const deadline = Date.now() + graceMs;
  let left = live;
  while (left.length > 0 && Date.now() < deadline) {
    sleepSync(20);
    left = left.filter((g) => groupAlive(g));
  }
  for (const g of left) signalGroup(g, 'SIGKILL');
  return left;
}

let bootId: string | null | undefined;

/**
 * When process `pid` started, as "<boot id>:<clock ticks since boot>" from /proc (field 22 of /proc/PID/stat,
 * readable whoever owns the process); null when it does not run (or no /proc). A pid is reused after its process
 * ends; pid and start time together name one process, so a ledger never signals a stranger that got the pid.
 */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "pid (comm) ": state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    bootId ??= readBootId();
    return `${bootId ?? ''}:${fields[19]}`;
  } catch {
    return null;
  }
}

function readBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}
