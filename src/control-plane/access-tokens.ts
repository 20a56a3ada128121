import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConflictError, InputError, NotAllowedError } from '../core/index.js';
import type { SqliteStore, TokenRecord } from '../store/index.js';
import { tokenMatches } from './admin-token.js';
import { isRole, type Role } from './permissions.js';

/** Who a valid token belongs to; `name` is the actor recorded in events. */
export interface Caller {
  name: string;
  role: Role;
}

/** A token as listed: never its value, nor its hash. */
export interface TokenInfo {
  name: string;
  role: Role;
  createdAt: string | null;
  createdBy: string | null;
  expiresAt: string | null;
  /** `bootstrap`: the admin token of the data directory / CANARY_ADMIN_TOKEN; `process`: minted in memory for one run. */
  source: 'stored' | 'bootstrap' | 'process';
}

export type Verdict = { caller: Caller } | { problem: 'invalid' | 'expired' };

export interface AccessTokensOptions {
  store: SqliteStore;
  /** The bootstrap admin token (data directory file, CANARY_ADMIN_TOKEN or the option) and the actor it stands for. */
  bootstrap: { token: string; name: string };
  /** Names no stored token may take (actors of the control plane's own changes). */
  reservedNames?: string[];
}

/** `canary_<12 hex id>_<64 hex secret>`: the id finds the record, the secret is checked against its salted HMAC. */
const TOKEN_FORMAT = /^canary_([0-9a-f]{12})_([0-9a-f]{64})$/;

function hmac(saltHex: string, secret: string): Buffer {
  return createHmac('sha256', Buffer.from(saltHex, 'hex')).update(secret).digest();
}

function newToken(): { id: string; secret: string; value: string; salt: string; hash: string } {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('hex');
  const salt = randomBytes(16).toString('hex');
  return { id, secret, value: `canary_${id}_${secret}`, salt, hash: hmac(salt, secret).toString('hex') };
}

/** `30d`, `12h`, `90m`, `45s` -> milliseconds. */
export function parseDuration(text: string, field: string): number {
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(text.trim());
  if (!m || Number(m[1]) === 0) {
    throw new InputError(`${field}: must be a duration such as 30d, 12h or 90m, got "${text}"`, [
      { path: field, message: 'not a duration' },
    ]);
  }
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/**
 * The control plane's bearer tokens: the bootstrap admin token, tokens minted in memory for one run (the proxy's
 * credential of `canary up`), and stored tokens (`canary token create`), kept as salted HMACs only.
 */
export class AccessTokens {
  private readonly store: SqliteStore;
  private readonly bootstrap: { token: string; name: string };
  private readonly reserved: Set<string>;
  private readonly inMemory = new Map<string, TokenRecord>();

  constructor(options: AccessTokensOptions) {
    this.store = options.store;
    this.bootstrap = options.bootstrap;
    this.reserved = new Set([options.bootstrap.name, ...(options.reservedNames ?? [])]);
  }

  /** Checks a presented token in constant time (per candidate); the value is never kept or logged. */
  verify(value: string, now = Date.now()): Verdict {
    // Always run the bootstrap comparison, so a stored token takes no measurably different path up to here.
    const isBootstrap = tokenMatches(this.bootstrap.token, value);
    if (isBootstrap) return { caller: { name: this.bootstrap.name, role: 'admin' } };
    const m = TOKEN_FORMAT.exec(value);
    if (!m) return { problem: 'invalid' };
    const record = this.inMemory.get(m[1]!) ?? this.store.tokenById(m[1]!);
    if (!record || !isRole(record.role)) return { problem: 'invalid' };
    const expected = Buffer.from(record.hash, 'hex');
    const given = hmac(record.salt, m[2]!);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { problem: 'invalid' };
    if (record.expiresAt !== null && Date.parse(record.expiresAt) <= now) return { problem: 'expired' };
    return { caller: { name: record.name, role: record.role } };
  }

  /** Creates a stored token and records an event; the value is returned once and never stored. */
  create(input: { name: string; role: Role; expiresInMs?: number }, actor: string): { info: TokenInfo; token: string } {
    this.checkName(input.name);
    const t = newToken();
    const createdAt = new Date();
    const expiresAt = input.expiresInMs === undefined ? null : new Date(createdAt.getTime() + input.expiresInMs).toISOString();
    const record: TokenRecord = {
      name: input.name,
      id: t.id,
      role: input.role,
      salt: t.salt,
      hash: t.hash,
      createdAt: createdAt.toISOString(),
      createdBy: actor,
      expiresAt,
    };
    this.store.write((w) => {
      w.createToken(record);
      w.appendEvent({
        actor,
        action: 'token.created',
        resourceKind: 'token',
        resourceName: input.name,
        before: null,
        after: { name: input.name, role: input.role, expiresAt },
        message: `token "${input.name}" created with role ${input.role}${expiresAt ? `, expires ${expiresAt}` : ''}`,
      });
    });
    return { info: infoOf(record, 'stored'), token: t.value };
  }

  /**
   * A token that lives only in this process's memory (gone at restart): `canary up` gives one to its proxy, so the
   * proxy never holds the admin token. A later one of the same name replaces it.
   */
  mintInMemory(name: string, role: Role): string {
    for (const [id, r] of this.inMemory) if (r.name === name) this.inMemory.delete(id);
    const t = newToken();
    this.reserved.add(name);
    this.inMemory.set(t.id, {
      name,
      id: t.id,
      role,
      salt: t.salt,
      hash: t.hash,
      createdAt: new Date().toISOString(),
      createdBy: 'control plane',
      expiresAt: null,
    });
    return t.value;
  }

  list(): TokenInfo[] {
    const builtIn: TokenInfo = {
      name: this.bootstrap.name,
      role: 'admin',
      createdAt: null,
      createdBy: null,
      expiresAt: null,
      source: 'bootstrap',
    };
    return [
      builtIn,
      ...[...this.inMemory.values()].map((r) => infoOf(r, 'process')),
      ...this.store.listTokens().map((r) => infoOf(r, 'stored')),
    ];
  }

  /** Deletes a stored token at once (its next request gets 401) and records an event. */
  revoke(name: string, actor: string): TokenInfo {
    if (this.reserved.has(name) && !this.store.listTokens().some((t) => t.name === name)) {
      throw new NotAllowedError(
        `token "${name}" is built in and cannot be revoked here` +
          (name === this.bootstrap.name ? ': replace the admin-token file (or CANARY_ADMIN_TOKEN) and restart' : ': it ends with this run'),
      );
    }
    const removed = this.store.write((w) => {
      const r = w.deleteToken(name);
      w.appendEvent({
        actor,
        action: 'token.revoked',
        resourceKind: 'token',
        resourceName: name,
        before: { name, role: r.role, expiresAt: r.expiresAt },
        after: null,
        message: `token "${name}" revoked`,
      });
      return r;
    });
    return infoOf(removed, 'stored');
  }

  private checkName(name: string): void {
    if (this.reserved.has(name)) {
      throw new ConflictError(`token name "${name}" is reserved (it names the control plane's own credentials); choose another`);
    }
  }
}

function infoOf(r: TokenRecord, source: TokenInfo['source']): TokenInfo {
  // Roles are checked when a token is created; verify() refuses any other.
  return { name: r.name, role: r.role as Role, createdAt: r.createdAt, createdBy: r.createdBy, expiresAt: r.expiresAt, source };
}
