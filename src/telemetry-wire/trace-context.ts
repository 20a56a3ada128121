import { randomFillSync } from 'node:crypto';

/**
 * Trace context as the proxy reads it from a request: W3C `traceparent` first, then B3 single (`b3`), then B3
 * multi (`x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled`, `x-b3-flags`). Parsing fills a reused object and
 * allocates only the id strings it keeps.
 */
export interface TraceContext {
  /** 32 lower-case hex digits; '' when the request carried no valid context. */
  traceId: string;
  /** The caller's span id (16 hex), '' when none. */
  parentSpanId: string;
  /** The caller's decision: true, false, or null when it made none (B3 allows deferring). */
  sampled: boolean | null;
}

export function emptyTraceContext(): TraceContext {
  return { traceId: '', parentSpanId: '', sampled: null };
}

function isLowerHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

function allZero(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== 48) return false;
  return true;
}

/** `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`; fills `into` and returns true when valid. */
export function parseTraceparent(value: string, into: TraceContext): boolean {
  const v = value.trim();
  if (v.length < 55 || v.charCodeAt(2) !== 45 || v.charCodeAt(35) !== 45 || v.charCodeAt(52) !== 45) return false;
  const lower = v.length === 55 ? v.toLowerCase() : v.slice(0, 55).toLowerCase();
  // Version ff is invalid; future versions may append fields after the flags (accepted, ignored).
  if (!isLowerHex(lower, 0, 2) || lower.startsWith('ff') || (v.length > 55 && v.charCodeAt(55) !== 45)) return false;
  if (lower.startsWith('00') && v.length !== 55) return false;
  if (!isLowerHex(lower, 3, 35) || !isLowerHex(lower, 36, 52) || !isLowerHex(lower, 53, 55)) return false;
  const traceId = lower.slice(3, 35);
  const spanId = lower.slice(36, 52);
  if (allZero(traceId) || allZero(spanId)) return false;
  into.traceId = traceId;
  into.parentSpanId = spanId;
  into.sampled = (Number.parseInt(lower.slice(53, 55), 16) & 1) === 1;
  return true;
}

/** A 64- or 128-bit B3 trace id as 32 hex digits (64-bit ids are left-padded with zeros), or '' when invalid. */
export function normalizeB3TraceId(value: string): string {
  const v = value.trim().toLowerCase();
  if ((v.length !== 16 && v.length !== 32) || !isLowerHex(v, 0, v.length) || allZero(v)) return '';
  return v.length === 16 ? `0000000000000000${v}` : v;
}

function b3Sampled(value: string | undefined, debug: string | undefined): boolean | null {
  if (debug === '1') return true;
  if (value === undefined) return null;
  const v = value.trim().toLowerCase();
  if (v === '1' || v === 'd' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  return null;
}

/** B3 single header: `{traceid}-{spanid}[-{sampling}[-{parentspanid}]]`, or just `{sampling}` (`0`, `1`, `d`). */
export function parseB3Single(value: string, into: TraceContext): boolean {
  const v = value.trim();
  const parts = v.split('-');
  if (parts.length === 1) {
    const s = b3Sampled(parts[0], undefined);
    if (s === null) return false;
    into.traceId = '';
    into.parentSpanId = '';
    into.sampled = s;
    return true;
  }
  const traceId = normalizeB3TraceId(parts[0]!);
  const spanId = parts[1]!.toLowerCase();
  if (traceId === '' || spanId.length !== 16 || !isLowerHex(spanId, 0, 16)) return false;
  into.traceId = traceId;
  into.parentSpanId = spanId;
  into.sampled = b3Sampled(parts[2], undefined);
  return true;
}

/** B3 multi headers; `traceId` and `spanId` are needed for a context, `sampled` alone carries just the decision. */
export function parseB3Multi(
  traceId: string | undefined,
  spanId: string | undefined,
  sampled: string | undefined,
  flags: string | undefined,
  into: TraceContext,
): boolean {
  const decision = b3Sampled(sampled, flags);
  if (traceId !== undefined && spanId !== undefined) {
    const t = normalizeB3TraceId(traceId);
    const s = spanId.trim().toLowerCase();
    if (t !== '' && s.length === 16 && isLowerHex(s, 0, 16)) {
      into.traceId = t;
      into.parentSpanId = s;
      into.sampled = decision;
      return true;
    }
  }
  if (decision === null) return false;
  into.traceId = '';
  into.parentSpanId = '';
  into.sampled = decision;
  return true;
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

/**
 * Random trace and span ids from a pre-filled pool of random bytes (one `randomFill` per 512 ids rather than
 * one per id).
 */
export class TraceIds {
  private readonly pool = Buffer.allocUnsafe(8192);
  private offset = this.pool.length;

  private take(n: number): string {
    if (this.offset + n > this.pool.length) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const s = this.pool.toString('hex', this.offset, this.offset + n);
    this.offset += n;
    return allZero(s) ? this.take(n) : s;
  }

  traceId(): string {
    return this.take(16);
  }

  spanId(): string {
    return this.take(8);
  }

  /** A uniform number in [0, 1) from the pool, for sampling decisions. */
  fraction(): number {
    if (this.offset + 4 > this.pool.length) {
      randomFillSync(this.pool);
      this.offset = 0;
    }
    const n = this.pool.readUInt32LE(this.offset);
    this.offset += 4;
    return n / 4294967296;
  }
}
