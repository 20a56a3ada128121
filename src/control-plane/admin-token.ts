import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AdminToken {
  token: string;
  /** Where the token is stored, or null when it came from an option or CANARY_ADMIN_TOKEN. */
  file: string | null;
  source: 'option' | 'env' | 'file' | 'generated';
}

export const adminTokenFileName = 'admin-token';

/**
 * The admin bearer token: the explicit option, else env CANARY_ADMIN_TOKEN, else `<dataDir>/admin-token`,
 * generated on first start (32 random bytes, base64url) with mode 0600.
 */
export function loadAdminToken(dataDir: string, explicit?: string, env: NodeJS.ProcessEnv = process.env): AdminToken {
  if (explicit) return { token: explicit, file: null, source: 'option' };
  if (env.CANARY_ADMIN_TOKEN) return { token: env.CANARY_ADMIN_TOKEN, file: null, source: 'env' };
  const file = join(dataDir, adminTokenFileName);
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token.length === 0) throw new Error(`${file} is empty: delete it to generate a new admin token, or set CANARY_ADMIN_TOKEN`);
    return { token, file, source: 'file' };
  }
  const token = randomBytes(32).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600); // the umask cannot loosen it, but be explicit
  return { token, file, source: 'generated' };
}

/** Compares in constant time (digests have equal length whatever the input lengths). */
export function tokenMatches(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}
