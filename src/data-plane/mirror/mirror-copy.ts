import type { IncomingMessage } from 'node:http';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { CapturedAnswer, CompiledCompare } from '../../core/comparison/index.js';
import { shadowHost } from '../forward-headers.js';
import { type CompiledEndpoint, type CompiledVersion, nextEndpoint, type ServiceRouter } from '../route-snapshot.js';
import type { MirrorComparisons } from './mirror-comparisons.js';

/** One answer being captured: status, headers, and the body's first `max` bytes (copied: reads reuse buffers). */
class Capture {
  status = 0;
  headers: string[] = [];
  private chunks: Buffer[] = [];
  private kept = 0;
  bytes = 0;

  constructor(private readonly max: number) {}

  data(buf: Buffer, start: number, end: number): void {
    this.bytes += end - start;
    const room = this.max - this.kept;
    if (room <= 0) return;
    const n = Math.min(room, end - start);
    this.chunks.push(Buffer.from(buf.subarray(start, start + n)));
    this.kept += n;
  }

  answer(): CapturedAnswer {
    return { status: this.status, headers: this.headers, body: Buffer.concat(this.chunks, this.kept), bodyBytes: this.bytes };
  }
}

const SIDE_PENDING = 0;
const SIDE_DONE = 1;
const SIDE_FAILED = 2;

/** `name: value\r\n` lines (the fast path's response fields) as [name, value, ...], names in lower case. */
function fieldLines(fields: string): string[] {
  const out: string[] = [];
  for (const line of fields.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out.push(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return out;
}

function rawPairs(raw: readonly (Buffer | string)[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push(String(raw[i]).toLowerCase(), String(raw[i + 1]));
  return out;
}

/**
 * One mirrored request: the copy sent to the mirror (its own undici dispatch, whose answer is read and captured
 * but never relayed) and the capture of the primary's answer, compared when both are complete. Nothing here can
 * hold back the primary: the request body reaches the copy only once it has been read for the primary (the fast
 * path has it whole; node:http's is copied as it streams past, never paused for the copy), the mirror's answer is
 * read as fast as it comes, and the pair is abandoned after the mirror timeout whatever either side does.
 */
export class MirrorCopy implements Dispatcher.DispatchHandlers {
  private primarySide = SIDE_PENDING;
  private mirrorSide = SIDE_PENDING;
  private readonly primary: Capture;
  private readonly mirror: Capture;
  private readonly startedAt = performance.now();
  private primaryMs = 0;
  private mirrorStartedAt = 0;
  private mirrorMs = 0;
  private abortMirror: ((err?: Error) => void) | null = null;
  private readonly timer: NodeJS.Timeout;
  private settled = false;
  /** node:http path: the client's request and the tee the primary reads it through. */
  private source: IncomingMessage | null = null;
  private tee: BodyTee | null = null;
  /** The request body as read so far (node:http path), or null when it went over the bound. */
  private requestChunks: Buffer[] | null = [];
  private requestBytes = 0;

  constructor(
    private readonly owner: MirrorComparisons,
    private readonly service: string,
    private readonly release: string | null,
    private readonly compare: CompiledCompare,
    private readonly endpoint: CompiledEndpoint,
    private readonly method: string,
    private readonly url: string,
    private readonly path: string,
    /** The forwarded headers with the `-shadow` host. */
    private readonly headers: string[],
    /** Bytes reserved from the owner's budget, given back when settled. */
    private readonly reserved: number,
  ) {
    const max = compare.settings.maxBodyBytes;
    this.primary = new Capture(max);
    this.mirror = new Capture(max);
    this.timer = setTimeout(() => this.timedOut(), owner.limits.timeoutMs);
    this.timer.unref();
  }

  /** Sends the copy with the body the fast path read whole; false (counted as too large) when it is over the bound. */
  sendWith(body: Buffer | null): boolean {
    if (body !== null && body.length > this.compare.settings.maxBodyBytes) {
      this.tooLarge();
      return false;
    }
    this.dispatch(body);
    return true;
  }

  /**
   * node:http path: the stream to give the primary as its body. Every chunk goes on to the primary as it comes,
   * with the primary's back-pressure; a copy of it is kept while the body stays within the bound, and the copy is
   * sent once the body has ended. A Content-Length over the bound is not copied at all.
   */
  bodyFor(req: IncomingMessage): Readable {
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > this.compare.settings.maxBodyBytes) {
      this.tooLarge();
      return req;
    }
    const tee = new BodyTee(this);
    this.source = req;
    this.tee = tee;
    req.pipe(tee);
    // A client that leaves mid-body: the primary's upstream request must fail as it would without the tee.
    req.once('close', () => {
      if (!req.complete) tee.destroy(new Error('client closed the connection mid-body'));
    });
    return tee;
  }

  /** BodyTee: one chunk of the request body went by. */
  requestData(chunk: Buffer): void {
    const chunks = this.requestChunks;
    if (chunks === null) return;
    this.requestBytes += chunk.length;
    if (this.requestBytes > this.compare.settings.maxBodyBytes) {
      this.requestChunks = null;
      this.tooLarge();
      return;
    }
    chunks.push(chunk);
  }

  /** BodyTee: the request body ended; the copy goes now. */
  requestEnd(): void {
    const chunks = this.requestChunks;
    if (chunks === null || this.settled) return;
    this.requestChunks = null;
    this.dispatch(chunks.length === 0 ? null : Buffer.concat(chunks, this.requestBytes));
  }

  private dispatch(body: Buffer | null): void {
    if (this.settled) return;
    this.owner.of(this.service, this.release).mirrored++;
    this.mirrorStartedAt = performance.now();
    try {
      this.endpoint.pool.dispatch(
        {
          path: this.url,
          method: this.method as Dispatcher.HttpMethod,
          headers: this.headers,
          body,
          headersTimeout: this.owner.limits.timeoutMs,
          bodyTimeout: this.owner.limits.timeoutMs,
        },
        this,
      );
    } catch {
      // A pool closed by a newer route table.
      this.mirrorSide = SIDE_FAILED;
      this.finish();
    }
  }

  // The primary's answer, from the fast path (head fields as text) or node:http (undici's raw headers).

  primaryFastHead(status: number, fields: string): void {
    if (this.settled) return;
    this.primary.status = status;
    this.primary.headers = fieldLines(fields);
  }

  primaryRawHead(status: number, raw: readonly (Buffer | string)[]): void {
    if (this.settled) return;
    this.primary.status = status;
    this.primary.headers = rawPairs(raw);
  }

  primaryData(buf: Buffer, start: number, end: number): void {
    if (!this.settled) this.primary.data(buf, start, end);
  }

  primaryEnd(): void {
    if (this.settled || this.primarySide !== SIDE_PENDING) return;
    this.primarySide = this.primary.status === 0 ? SIDE_FAILED : SIDE_DONE;
    this.primaryMs = performance.now() - this.startedAt;
    this.finish();
  }

  /** The primary failed or its client left: nothing to compare (a copy not yet sent is not sent). */
  primaryFailed(): void {
    const req = this.source;
    if (req !== null && !req.complete && this.tee !== null) {
      // The primary gave up on the body (say its upstream refused): let node:http read and drop the rest, as it does
      // for a body nobody reads, rather than leave the client's upload stuck behind a tee nobody drains.
      req.unpipe(this.tee);
      req.resume();
      this.tee = null;
    }
    if (this.settled || this.primarySide !== SIDE_PENDING) return;
    this.primarySide = SIDE_FAILED;
    if (this.mirrorStartedAt === 0) this.dropUnsent();
    else this.finish();
  }

  /** The copy was never sent: nothing to compare, counted as the primary failing. */
  private dropUnsent(): void {
    this.requestChunks = null;
    this.settle();
    this.owner.of(this.service, this.release).skipped.primaryFailed++;
  }

  // undici's handler of the copy: read everything as it comes (never paused), keep the first bytes.

  onConnect(abort: (err?: Error) => void): void {
    this.abortMirror = abort;
    if (this.settled) abort();
  }

  onHeaders(status: number, raw: Buffer[]): boolean {
    if (status < 200) return true;
    this.mirror.status = status;
    this.mirror.headers = rawPairs(raw);
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.mirror.data(chunk, 0, chunk.length);
    return true;
  }

  onComplete(): void {
    if (this.mirrorSide !== SIDE_PENDING) return;
    this.mirrorSide = SIDE_DONE;
    this.mirrorMs = performance.now() - this.mirrorStartedAt;
    this.finish();
  }

  onError(): void {
    if (this.mirrorSide !== SIDE_PENDING) return;
    this.mirrorSide = SIDE_FAILED;
    this.finish();
  }

  private timedOut(): void {
    if (this.settled) return;
    if (this.mirrorSide === SIDE_PENDING) this.mirrorSide = SIDE_FAILED;
    if (this.primarySide === SIDE_PENDING) this.primarySide = SIDE_FAILED;
    this.abortMirror?.(new Error('mirror timeout'));
    // Still reading the request body for the copy: nothing was sent.
    if (this.mirrorStartedAt === 0) this.dropUnsent();
    else this.finish();
  }

  private tooLarge(): void {
    if (this.settled) return;
    this.settle();
    this.owner.of(this.service, this.release).skipped.bodyTooLarge++;
  }

  /** Both sides known: compare (or count the failure) and give the place back. */
  private finish(): void {
    if (this.settled || this.primarySide === SIDE_PENDING || this.mirrorSide === SIDE_PENDING) return;
    this.settle();
    this.owner.of(this.service, this.release).record({
      method: this.method,
      path: this.path,
      compare: this.compare,
      primary: this.primarySide === SIDE_DONE ? this.primary.answer() : null,
      mirror: this.mirrorSide === SIDE_DONE ? this.mirror.answer() : null,
      primaryMs: this.primaryMs,
      mirrorMs: this.mirrorMs,
    });
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.owner.release(this.reserved);
  }
}

/** The primary's request body, passed on chunk by chunk with its back-pressure, a copy kept by the MirrorCopy. */
class BodyTee extends Transform {
  constructor(private readonly copy: MirrorCopy) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.copy.requestData(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    this.copy.requestEnd();
    done();
  }
}

/**
 * A copy of one request for `mirror` (a version of `router`'s service), or null when none goes out: no endpoint of
 * the mirror in service (counted as failed) or the bounds of copies in flight reached (counted as overloaded).
 */
export function startMirrorCopy(
  owner: MirrorComparisons,
  router: ServiceRouter,
  mirror: CompiledVersion,
  method: string,
  url: string,
  path: string,
  headers: readonly string[],
  hostIndex: number,
  host: string,
): MirrorCopy | null {
  const endpoint = nextEndpoint(mirror);
  if (endpoint === undefined) {
    owner.of(router.name, router.release).skipped.mirrorFailed++;
    return null;
  }
  const compare = router.compare;
  // The request body and both answers' kept bytes, at most.
  const reserved = 3 * compare.settings.maxBodyBytes;
  if (!owner.reserve(reserved)) {
    owner.of(router.name, router.release).skipped.overloaded++;
    return null;
  }
  const copy = headers.slice();
  if (hostIndex >= 0) copy[hostIndex] = shadowHost(host);
  return new MirrorCopy(owner, router.name, router.release, compare, endpoint, method, url, path, copy, reserved);
}
