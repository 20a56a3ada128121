import { equalsLower, isHopByHopResponseHeader } from './forward-headers.js';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BODY_UNTIL_CLOSE, cleanReason, type ResponseHead, reasonPhrase } from './http1-wire.js';
import { type HeadersCompleteCallback, type LlhttpBinding, type LlhttpParser, MAX_HEAD_BYTES, STOP_AFTER_HEAD } from './llhttp.js';

/** The async resource llhttp's parsers are initialised with (Node's binding requires an object). */
const PARSER_RESOURCE = {};

/** No body bytes in this read (shared: emptying an array with `length = 0` is a runtime call). */
const NO_PIECES: Buffer[] = [];

/** Bytes after the answer ended (a second answer nobody asked for): the connection cannot be trusted again. */
export const EXTRA_BYTES = 'UPSTREAM_EXTRA_BYTES';

/**
 * Frames the answers of one upstream connection with llhttp (Node's own parser, see llhttp.ts): status, fields,
 * body and trailers come out decoded, and the proxy frames them again for its client, so nothing the upstream wrote
 * reaches the client unchecked (a chunk extension, a bare LF in a trailer, `Transfer-Encoding: xchunked`, a
 * 4-digit status, Content-Length beside Transfer-Encoding all fail the answer instead). One answer at a time:
 * `begin` before each request, then `feed` every read; what a read produced is in `body`, `trailers`, `done`.
 */
export class ResponseParser {
  readonly head: ResponseHead = { status: 0, statusLine: '', fields: '', framing: BODY_NONE, contentLength: 0, close: false };
  /** The final head has been parsed (interim 1xx heads are skipped). */
  headReady = false;
  /**
   * Body pieces of the last `feed`: copies llhttp decoded (chunked), or views of the read itself (a Content-Length
   * body or one delimited by the close, which llhttp does not copy out): valid only during the call.
   */
  body: Buffer[] = NO_PIECES;
  /** Trailer fields of a chunked answer, `name: value\r\n` lines (framing and hop-by-hop ones dropped). */
  trailers = '';
  /** The answer is complete. */
  done = false;
  /** Why the answer cannot be relayed (`HPE_*`, or a reason of the proxy's own), else ''. */
  error = '';
  private readonly parser: LlhttpParser;
  private readonly b: LlhttpBinding;
  /** The body is taken by length or until the close here, not by llhttp (which stopped after the head). */
  private raw = false;
  /** Bytes of a Content-Length body still to come. */
  private remaining = 0;
  private noBody = false;
  private interim = false;
  /** Fields handed over before the head completed (heads with more than 32 fields). */
  private early: string[] | null = null;

  constructor(b: LlhttpBinding) {
    this.b = b;
    const parser = new b();
    parser.initialize(b.RESPONSE, PARSER_RESOURCE, MAX_HEAD_BYTES, b.kLenientNone);
    parser[b.kOnMessageBegin] = () => {
      if (this.done && this.error === '') this.error = EXTRA_BYTES;
    };
    parser[b.kOnHeaders] = (fields: string[]) => {
      // After the head, only trailers come this way (heads with more than 32 fields come here first too).
      if (this.headReady) this.trailers += trailerLines(fields);
      else this.early = this.early === null ? fields.slice() : this.early.concat(fields);
    };
    parser[b.kOnHeadersComplete] = ((major, minor, fields, _m, _u, status, reason, _upgrade, keepAlive) => {
      return this.headComplete(major, minor, fields, status, reason, keepAlive);
    }) as HeadersCompleteCallback;
    parser[b.kOnBody] = (chunk: Buffer) => {
      if (this.done) return;
      if (this.body === NO_PIECES) this.body = [chunk];
      else this.body.push(chunk);
    };
    parser[b.kOnMessageComplete] = () => {
      if (this.interim) {
        this.interim = false;
        return;
      }
      // After a stop at the head llhttp calls this at once: the body is taken here (rawBody), then it is done.
      if (!this.raw) this.done = true;
    };
    this.parser = parser;
  }

  /** Readies the parser for the answer to the next request; `noBody`: it was a HEAD request. */
  begin(noBody: boolean): void {
    this.noBody = noBody;
    this.headReady = false;
    this.done = false;
    this.raw = false;
    this.trailers = '';
    this.body = NO_PIECES;
    // A fresh llhttp state: after a stop at the head, Node's binding keeps the "upgrade" flag (request-parser.ts).
    const b = this.b;
    this.parser.initialize(b.RESPONSE, PARSER_RESOURCE, MAX_HEAD_BYTES, b.kLenientNone);
  }

  /** Parses one read. False when the answer cannot be relayed (`error` says why). */
  feed(chunk: Buffer): boolean {
    this.body = NO_PIECES;
    if (this.raw) return this.rawBody(chunk, 0);
    const r = this.parser.execute(chunk);
    if (typeof r !== 'number') {
      // Whatever llhttp makes of bytes after a complete answer (`HPE_CLOSED_CONNECTION` after Connection: close),
      // they are bytes nobody asked for.
      if (this.error === '') this.error = this.done ? EXTRA_BYTES : r.code;
      return false;
    }
    if (this.error !== '') return false;
    // llhttp stopped right after the head: the rest of the read is body (or bytes nobody asked for).
    if (this.raw) return this.rawBody(chunk, r);
    return true;
  }

  /**
   * A body llhttp does not decode: Content-Length bytes (llhttp checked the field) or everything until the close.
   * Taking it here spares a copy of every body piece into a new Buffer (Node's on_body), about 2 us per answer.
   */
  private rawBody(chunk: Buffer, at: number): boolean {
    const n = chunk.length;
    switch (this.head.framing) {
      case BODY_LENGTH: {
        const take = Math.min(this.remaining, n - at);
        if (take > 0) this.body = [chunk.subarray(at, at + take)];
        this.remaining -= take;
        if (this.remaining > 0) return true;
        this.done = true;
        if (at + take < n) this.error = EXTRA_BYTES;
        break;
      }
      case BODY_UNTIL_CLOSE:
        if (at < n) this.body = [chunk.subarray(at)];
        return true;
      default:
        this.done = true;
        if (at < n) this.error = EXTRA_BYTES;
    }
    return this.error === '';
  }

  /** The upstream closed: completes an answer delimited by the close. False when the answer was cut short. */
  end(): boolean {
    this.body = NO_PIECES;
    if (this.raw) {
      // The close ends a body delimited by it; a Content-Length body cut short is a failure.
      if (this.head.framing === BODY_UNTIL_CLOSE) this.done = true;
      else if (!this.done && this.error === '') this.error = 'HPE_INVALID_EOF_STATE';
      return this.done && this.error === '';
    }
    const r = this.parser.finish();
    if (r !== undefined && typeof r !== 'number') {
      if (this.error === '') this.error = r.code;
      return false;
    }
    return this.done && this.error === '';
  }

  close(): void {
    this.parser.close();
  }

  private headComplete(
    major: number,
    minor: number,
    given: string[] | undefined,
    status: number,
    reason: string | undefined,
    keepAlive: boolean,
  ): number {
    let fields = given ?? [];
    if (this.early !== null) {
      fields = given === undefined ? this.early : this.early.concat(given);
      this.early = null;
    }
    if (status < 100) {
      // llhttp takes `000`; no client could make sense of it.
      this.error = 'UPSTREAM_STATUS';
      return 0;
    }
    if (status < 200) {
      // 101 was never asked for (upgrades take their own connection); other interim answers are skipped.
      if (status === 101) this.error = 'UPSTREAM_SWITCHED_PROTOCOLS';
      this.interim = true;
      return 0;
    }
    const head = this.head;
    let out = '';
    let length = -1;
    let transferEncoding: string | null = null;
    let named: string[] | null = null;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      const value = fields[i + 1]!;
      if (name.length === 14 && equalsLower(name, 'content-length')) {
        length = Number(value); // llhttp has checked it: digits, one field
        continue;
      }
      if (isHopByHopResponseHeader(name)) {
        if (name.length === 17) transferEncoding = value;
        else if (
          name.length === 10 &&
          equalsLower(name, 'connection') &&
          !equalsLower(value, 'keep-alive') &&
          !equalsLower(value, 'close')
        ) {
          named = connectionNames(value, named);
        }
        continue;
      }
      out += `${name}: ${value}\r\n`;
    }
    if (named !== null) out = withoutNamedFields(out, named);
    // Only plain chunked coding is relayed: llhttp reads `xchunked` or `gzip` until the close and keeps the
    // coding inside the body, which the client could not tell from the data.
    if (transferEncoding !== null && !equalsLower(transferEncoding, 'chunked')) {
      this.error = 'UPSTREAM_TRANSFER_ENCODING';
      return 0;
    }
    head.status = status;
    head.statusLine = `HTTP/1.1 ${status} ${reasonPhrase(status, cleanReason(reason))}\r\n`;
    head.close = !keepAlive || major !== 1 || minor === 0;
    head.contentLength = 0;
    const noBody = this.noBody || status === 204 || status === 304;
    if (noBody) {
      head.framing = BODY_NONE;
      // A HEAD answer keeps its Content-Length: it describes the GET's body.
      if (length !== -1) out += `content-length: ${length}\r\n`;
    } else if (transferEncoding !== null) {
      head.framing = BODY_CHUNKED;
    } else if (length !== -1) {
      head.framing = length === 0 ? BODY_NONE : BODY_LENGTH;
      head.contentLength = length;
      out += `content-length: ${length}\r\n`;
    } else {
      head.framing = BODY_UNTIL_CLOSE;
      head.close = true;
    }
    head.fields = out;
    this.headReady = true;
    // Only chunked bodies are decoded by llhttp; for the others it stops here and the body is taken by rawBody.
    this.raw = head.framing !== BODY_CHUNKED;
    this.remaining = head.contentLength;
    return this.raw ? STOP_AFTER_HEAD : 0;
  }
}

function connectionNames(value: string, into: string[] | null): string[] | null {
  let out = into;
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase();
    // Framing is the proxy's to decide: Content-Length is never dropped because Connection names it.
    if (token && token !== 'close' && token !== 'keep-alive' && token !== 'content-length') {
      out ??= [];
      out.push(token);
    }
  }
  return out;
}

/** Removes the field lines whose (lower-cased) names Connection listed. Rare: allocation is fine here. */
function withoutNamedFields(fields: string, named: string[]): string {
  let out = '';
  for (const line of fields.split('\r\n')) {
    if (line === '') continue;
    if (!named.includes(line.slice(0, line.indexOf(':')).toLowerCase())) out += `${line}\r\n`;
  }
  return out;
}

function trailerLines(fields: string[]): string {
  let out = '';
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    // Framing and routing fields are not allowed in trailers (RFC 9110 6.5.1).
    if (isHopByHopResponseHeader(name) || equalsLower(name, 'content-length') || equalsLower(name, 'host')) continue;
    out += `${name}: ${fields[i + 1]}\r\n`;
  }
  return out;
}
