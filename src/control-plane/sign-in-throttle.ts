export interface SignInThrottleOptions {
  /** Failed attempts an address gets before it must wait; default 10. */
  freeFailures?: number;
  /** First wait after the free attempts, doubled by each further failure; default 1000 ms. */
  baseDelayMs?: number;
  /** Longest wait; default 60 s. */
  maxDelayMs?: number;
  /** An address with no failure for this long starts afresh; default 15 min. */
  forgetAfterMs?: number;
  /** Addresses remembered at most (the oldest are forgotten first), so a flood of addresses cannot fill memory; default 10000. */
  maxAddresses?: number;
}

interface Entry {
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
}

/**
 * Slows down token guessing: after `freeFailures` rejected tokens from one client address, that address must wait
 * before its next attempt (429 with Retry-After), the wait doubling with each further failure up to `maxDelayMs`.
 * Bounded memory: at most `maxAddresses` entries, oldest first out. A success does not reset the count (a valid
 * low-privilege token must not buy unlimited guesses at an admin's); entries are forgotten after a quiet spell.
 */
export class SignInThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly freeFailures: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly forgetAfterMs: number;
  private readonly maxAddresses: number;

  constructor(options: SignInThrottleOptions = {}) {
    this.freeFailures = options.freeFailures ?? 10;
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
    this.forgetAfterMs = options.forgetAfterMs ?? 15 * 60_000;
    this.maxAddresses = options.maxAddresses ?? 10_000;
  }

  /** Milliseconds this address must still wait before a token is checked; 0 when it may try now. */
  waitMs(address: string, now = Date.now()): number {
    const e = this.current(address, now);
    return e ? Math.max(0, e.blockedUntil - now) : 0;
  }

  /** Records a rejected token from this address. */
  failed(address: string, now = Date.now()): void {
    const e = this.current(address, now) ?? { failures: 0, lastFailureAt: now, blockedUntil: 0 };
    e.failures++;
    e.lastFailureAt = now;
    const over = e.failures - this.freeFailures;
    if (over >= 0) e.blockedUntil = now + Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(over, 30));
    // Re-insert so the Map's order is by last failure: the first entry is the one to drop when full.
    this.entries.delete(address);
    this.entries.set(address, e);
    while (this.entries.size > this.maxAddresses) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  /** Addresses currently remembered (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  private current(address: string, now: number): Entry | undefined {
    const e = this.entries.get(address);
    if (e && now - e.lastFailureAt > this.forgetAfterMs && now >= e.blockedUntil) {
      this.entries.delete(address);
      return undefined;
    }
    return e;
  }
}
