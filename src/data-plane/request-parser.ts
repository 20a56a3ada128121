import { equalsLower } from './forward-headers.js';
import { ANSWER_OPTIONS, FORWARD, type RequestHead, requestLimits, requestVerdict, targetTooLongSoFar } from './http1-wire.js';
import { type HeadersCompleteCallback, type LlhttpBinding, type LlhttpParser, llhttpMethodName, STOP_AFTER_HEAD } from './llhttp.js';

/** `parse` found no whole head yet: more bytes are needed. */
export const HEAD_INCOMPLETE = 0;
/** A whole head, in `head`. */
export const HEAD_COMPLETE = 1;
/** llhttp refused the bytes (or they exceed a limit): `error` says why; the connection gets 400/414/431 and closes. */
export const HEAD_REFUSED = 2;

/** `frame`: more bytes are needed. */
export const FRAME_MORE = 0;
/** `frame`: a whole request for the fast path, `total` bytes (head and Content-Length body) from the start. */
export const FRAME_REQUEST = 1;
/** `frame`: a whole `OPTIONS *`, `total` bytes, which the proxy answers itself. */
export const FRAME_OPTIONS = 2;
/** `frame`: a valid request the fast path does not carry (chunked or large body, HTTP/1.0, Upgrade, Expect). */
export const FRAME_HAND_OFF = 3;
/** `frame`: refused (`refusalReason`: a REFUSE_* verdict or an llhttp error code); the connection closes. */
export const FRAME_REFUSE = 4;

/** The async resource llhttp's parsers are initialised with (Node's binding requires an object). */
const PARSER_RESOURCE = {};

/** Largest Content-Length body the fast path buffers before forwarding; bigger ones stream through node:http. */
export const MAX_FAST_BODY_BYTES = 64 * 1024;

/**
 * Frames request heads of one client connection with llhttp (Node's own parser, see llhttp.ts), one message at a
 * time. llhttp stops right after each head (`STOP_AFTER_HEAD`), so the caller knows exactly where the head ended
 * and decides about the body itself: a Content-Length body is taken by its length (which llhttp has validated),
 * anything else is handed over whole to node:http, whose own llhttp parses it from the same first byte.
 * Pipelined requests: the next `parse` starts a new message where the caller says the previous one ended.
 */
export class RequestParser {
  readonly head: RequestHead = {
    method: '',
    url: '',
    raw: [],
    headBytes: 0,
    bodyBytes: 0,
    close: false,
    versionMinor: 1,
    chunked: false,
    transferEncoding: null,
    upgrade: false,
    expect: false,
  };
  /** Bytes of the request `frame` found (head and body). */
  total = 0;
  /** Why `frame` refused the request. */
  refusalReason: number | string = 0;
  /** The llhttp error code (`HPE_*`) of a refused head, or the limit it broke (`HPE_HEADER_OVERFLOW`, `URI_TOO_LONG`). */
  error = '';
  private readonly parser: LlhttpParser;
  private readonly b: LlhttpBinding;
  /** Bytes of the current message already given to llhttp. */
  private fed = 0;
  private complete = false;
  /** Fields and target handed over early through kOnHeaders (heads with more than 32 fields). */
  private early: string[] | null = null;
  private earlyUrl = '';

  constructor(b: LlhttpBinding) {
    this.b = b;
    const parser = new b();
    parser.initialize(b.REQUEST, PARSER_RESOURCE, requestLimits.maxHeadBytes, b.kLenientNone);
    parser[b.kOnHeaders] = (headers: string[], url: string) => {
      this.early ??= [];
      for (let i = 0; i < headers.length; i++) this.early.push(headers[i]!);
      this.earlyUrl += url;
    };
    parser[b.kOnHeadersComplete] = ((_major, minor, headers, method, url, _s, _m, upgrade, keepAlive) => {
      this.headComplete(minor, headers, method, url, upgrade, keepAlive);
      return STOP_AFTER_HEAD;
    }) as HeadersCompleteCallback;
    parser[b.kOnMessageComplete] = noop;
    parser[b.kOnBody] = noop;
    this.parser = parser;
  }

  /**
   * Parses the current message's bytes `buf` (from its first byte; bytes already seen are not parsed again).
   * HEAD_COMPLETE: `head` holds it and `head.headBytes` is its length in `buf`; call `messageDone` once its body
   * is taken. HEAD_INCOMPLETE: keep `buf` and call again with more. HEAD_REFUSED: `error` says why.
   */
  parse(buf: Buffer): number {
    if (this.complete) return HEAD_COMPLETE; // waiting for the body: the head stands
    const from = this.fed;
    if (from >= buf.length) return HEAD_INCOMPLETE;
    const r = this.parser.execute(from === 0 ? buf : buf.subarray(from));
    if (typeof r !== 'number') {
      // A target over llhttp's head limit is 414, as when it stays under that limit but over ours.
      this.error = r.code === 'HPE_HEADER_OVERFLOW' && targetTooLongSoFar(buf, buf.length) ? 'URI_TOO_LONG' : r.code;
      return HEAD_REFUSED;
    }
    if (!this.complete) {
      if (r < buf.length - from) {
        // llhttp stopped short of the end without a head: an error it did not report as one (see messageDone).
        // The message is read again by a fresh parser for its code (only ever on this refusal path).
        this.error = this.errorCode(buf);
        return HEAD_REFUSED;
      }
      this.fed = buf.length;
      // Judged on what has arrived, however it was cut into reads.
      if (targetTooLongSoFar(buf, buf.length)) {
        this.error = 'URI_TOO_LONG';
        return HEAD_REFUSED;
      }
      return HEAD_INCOMPLETE;
    }
    this.head.headBytes = from + r;
    if (this.head.url.length > requestLimits.maxTargetBytes) {
      this.error = 'URI_TOO_LONG';
      return HEAD_REFUSED;
    }
    return HEAD_COMPLETE;
  }

  /**
   * The fast path's whole framing decision for the next request in `buf` (from its first byte): llhttp's verdict
   * on the head, then the proxy's rules (requestVerdict), then who carries it. The differential test
   * (http1-differential.ts) drives exactly this against node:http.
   */
  frame(buf: Buffer): number {
    const state = this.parse(buf);
    if (state === HEAD_INCOMPLETE) {
      // llhttp counts field bytes only: a head of empty-ish lines is bounded here.
      if (buf.length <= 4 * requestLimits.maxHeadBytes) return FRAME_MORE;
      this.refusalReason = 'HPE_HEADER_OVERFLOW';
      return FRAME_REFUSE;
    }
    if (state === HEAD_REFUSED) {
      this.refusalReason = this.error;
      return FRAME_REFUSE;
    }
    const head = this.head;
    const verdict = requestVerdict(head.method, head.url, head.versionMinor, head.raw);
    if (verdict !== FORWARD && verdict !== ANSWER_OPTIONS) {
      this.refusalReason = verdict;
      return FRAME_REFUSE;
    }
    if (head.versionMinor !== 1 || head.chunked || head.upgrade || head.expect || head.bodyBytes > MAX_FAST_BODY_BYTES) {
      const error = head.chunked ? this.chunkedBodyError(buf) : null;
      if (error) {
        this.refusalReason = error;
        return FRAME_REFUSE;
      }
      return FRAME_HAND_OFF;
    }
    const total = head.headBytes + head.bodyBytes;
    if (buf.length < total) return FRAME_MORE; // the rest of the body is on its way
    this.total = total;
    return verdict === ANSWER_OPTIONS ? FRAME_OPTIONS : FRAME_REQUEST;
  }

  /** The message's head (and body, if any) has been consumed: the next `parse` starts a new one. */
  messageDone(): void {
    this.fed = 0;
    this.complete = false;
    // A fresh llhttp state per message: after a head it was told to stop at (its "upgrade"), Node's binding would
    // report the next message's errors as a byte count, not an error (node_http_parser.cc checks the stale flag).
    const b = this.b;
    this.parser.initialize(b.REQUEST, PARSER_RESOURCE, requestLimits.maxHeadBytes, b.kLenientNone);
  }

  close(): void {
    this.parser.close();
  }

  /** llhttp's error code for a message (`buf` from its first byte) it refuses. */
  private errorCode(buf: Buffer): string {
    const b = this.b;
    const check = new b();
    try {
      check.initialize(b.REQUEST, {}, requestLimits.maxHeadBytes, b.kLenientNone);
      check[b.kOnHeadersComplete] = () => STOP_AFTER_HEAD;
      check[b.kOnMessageComplete] = noop;
      const r = check.execute(buf);
      if (typeof r !== 'number') return r.code === 'HPE_HEADER_OVERFLOW' && targetTooLongSoFar(buf, buf.length) ? 'URI_TOO_LONG' : r.code;
      return 'HPE_INVALID';
    } finally {
      check.close();
    }
  }

  /**
   * For a chunked request about to be handed to node:http, which streams its body upstream as it comes: when the
   * whole message is already in `buf` (from its first byte), llhttp reads it once here, so a malformed body is
   * refused before its head is forwarded. '' when the message is whole and valid, the error code (`HPE_*`) when
   * it is not, null when it goes on past `buf` (then node:http finds any error, and the upstream request is cut).
   */
  chunkedBodyError(buf: Buffer): string | null {
    const b = this.b;
    const check = new b();
    let complete = false;
    try {
      check.initialize(b.REQUEST, {}, requestLimits.maxHeadBytes, b.kLenientNone);
      check[b.kOnHeadersComplete] = () => 0;
      check[b.kOnBody] = noop;
      check[b.kOnMessageComplete] = () => {
        complete = true;
      };
      const r = check.execute(buf);
      // An error after the message ended belongs to the next request, judged in its turn.
      if (typeof r !== 'number' && !complete) return r.code;
      return complete ? '' : null;
    } finally {
      check.close();
    }
  }

  private headComplete(
    minor: number,
    headers: string[] | undefined,
    method: number,
    url: string | undefined,
    upgrade: boolean,
    keepAlive: boolean,
  ): void {
    const head = this.head;
    let raw = headers;
    let target = url;
    if (this.early !== null) {
      raw = headers === undefined ? this.early : this.early.concat(headers);
      target = this.earlyUrl + (url ?? '');
      this.early = null;
      this.earlyUrl = '';
    }
    raw ??= [];
    head.method = llhttpMethodName(method);
    head.url = target ?? '';
    head.raw = raw;
    head.versionMinor = minor;
    head.close = !keepAlive;
    head.upgrade = upgrade;
    // One pass for the fields that decide how the body is framed and who carries the request.
    let bodyBytes = 0;
    let transferEncoding: string | null = null;
    let expect = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      switch (name.length) {
        case 6:
          if (equalsLower(name, 'expect')) expect = true;
          break;
        case 7:
          if (equalsLower(name, 'upgrade')) head.upgrade = true;
          break;
        case 14:
          // llhttp has checked it: digits only, one field.
          if (equalsLower(name, 'content-length')) bodyBytes = Number(raw[i + 1]);
          break;
        case 17:
          if (equalsLower(name, 'transfer-encoding')) transferEncoding = raw[i + 1]!;
          break;
      }
    }
    head.bodyBytes = bodyBytes;
    head.transferEncoding = transferEncoding;
    head.chunked = transferEncoding !== null;
    head.expect = expect;
    this.complete = true;
  }
}

function noop(): void {
  // llhttp stops after each head: it reaches no body and no message end.
}
