import { readFileSync } from 'node:fs';
import { InputError } from '../../core/errors.js';

/** The user and group process workloads run as. */
export interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

/**
 * Resolves `user` (a name from /etc/passwd, or a numeric uid) for workloads to run as. Null when this process
 * is not root: only root can switch users, and a non-root control plane's workloads already run unprivileged.
 */
export function resolveRunAs(user: string, isRoot = process.getuid?.() === 0): RunAs | null {
  if (!isRoot) return null;
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    // No passwd file: only a numeric uid can be used.
  }
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === undefined || uid === undefined || gid === undefined) continue;
    if (name === user || (/^\d+$/.test(user) && uid === user)) return { user: name, uid: Number(uid), gid: Number(gid) };
  }
  if (/^\d+$/.test(user)) return { user, uid: Number(user), gid: Number(user) };
  throw new InputError(`runAs: no user "${user}" on this machine; create it, or name another (canary up --run-as USER)`);
}
