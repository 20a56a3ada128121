import { describe, expect, it } from 'vitest';
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  BODY_NONE,
  BODY_UNTIL_CLOSE,
  emptyRequestHead,
  headEnd,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from './http1-wire.js';

function parse(head: string, noBody = false): ResponseHead | null {
  const buf = Buffer.from(`${head}\r\n\r\n`, 'latin1');
  const into: ResponseHead = { status: 0, statusLine: '', fields: '', framing: BODY_NONE, contentLength: 0, close: false };
  return parseResponseHead(buf, 0, headEnd(buf, 0), noBody, into) ? into : null;
}

describe('parseResponseHead', () => {
  it('keeps the end-to-end fields as the upstream wrote them and drops hop-by-hop ones', () => {
    const h = parse(
      'HTTP/1.1 200 OK\r\nDate: x\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-A:1\r\nx-b: 2 \r\nContent-Length: 5',
    )!;
    expect(h.statusLine).toBe('HTTP/1.1 200 OK\r\n');
    expect(h.fields).toBe('Date: x\r\nX-A:1\r\nx-b: 2 \r\ncontent-length: 5\r\n');
    expect(h).toMatchObject({ status: 200, framing: BODY_LENGTH, contentLength: 5, close: false });
  });

  it('drops the fields Connection names, and Upgrade, Proxy-Connection, Proxy-Authenticate', () => {
    const h = parse(
      'HTTP/1.1 200 OK\r\nconnection: keep-alive, X-Private\r\nx-private: 1\r\nupgrade: h2c\r\nproxy-connection: x\r\nproxy-authenticate: y\r\nx-kept: 2\r\ncontent-length: 0',
    )!;
    expect(h.fields).toBe('x-kept: 2\r\ncontent-length: 0\r\n');
    expect(h.framing).toBe(BODY_NONE);
  });

  it('makes a status line for HTTP/1.0 answers and answers without a reason phrase', () => {
    expect(parse('HTTP/1.0 404 Not Found\r\ncontent-length: 0')!.statusLine).toBe('HTTP/1.1 404 Not Found\r\n');
    expect(parse('HTTP/1.1 503')!.statusLine).toBe('HTTP/1.1 503 Service Unavailable\r\n');
    // HTTP/1.0 closes after the answer unless it says keep-alive.
    expect(parse('HTTP/1.0 200 OK\r\ncontent-length: 0')!.close).toBe(true);
    expect(parse('HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0')!.close).toBe(false);
  });

  it('frames by Transfer-Encoding over Content-Length, else by length, else until close', () => {
    const chunked = parse('HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: gzip, chunked\r\nx: y')!;
    expect(chunked).toMatchObject({ framing: BODY_CHUNKED, fields: 'x: y\r\n' });
    expect(parse('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip')!).toMatchObject({ framing: BODY_UNTIL_CLOSE, close: true });
    expect(parse('HTTP/1.1 200 OK\r\nx: y')!).toMatchObject({ framing: BODY_UNTIL_CLOSE, close: true, fields: 'x: y\r\n' });
    expect(parse('HTTP/1.1 200 OK\r\ncontent-length: 7\r\nContent-Length: 7')!.fields).toBe('content-length: 7\r\n');
  });

  it('keeps Content-Length on bodiless answers (HEAD, 204, 304) and frames them as empty', () => {
    expect(parse('HTTP/1.1 200 OK\r\ncontent-length: 42', true)!).toMatchObject({ framing: BODY_NONE, fields: 'content-length: 42\r\n' });
    expect(parse('HTTP/1.1 304 Not Modified\r\netag: "a"')!).toMatchObject({ framing: BODY_NONE, fields: 'etag: "a"\r\n' });
    expect(parse('HTTP/1.1 100 Continue')!).toMatchObject({ status: 100, framing: BODY_NONE, fields: '' });
  });

  it('refuses malformed heads', () => {
    expect(parse('HTTP/2 200 OK')).toBeNull();
    expect(parse('HTTP/1.1 20 OK')).toBeNull();
    expect(parse('HTTP/1.1 200 OK\r\nbad header')).toBeNull();
    expect(parse('HTTP/1.1 200 OK\r\nbad name: x')).toBeNull();
    expect(parse('HTTP/1.1 200 OK\r\nx: a\u0001b')).toBeNull();
    expect(parse('HTTP/1.1 200 OK\r\ncontent-length: 1x')).toBeNull();
    expect(parse('HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2')).toBeNull();
    expect(parse('HTTP/1.1 200 O\u0000K')).toBeNull();
  });
});

describe('headEnd', () => {
  it('finds the end of a head at any offset, short or long, and says -1 when it has not arrived', () => {
    const short = Buffer.from('GET / HTTP/1.1\r\nhost: a\r\n\r\nbody', 'latin1');
    expect(headEnd(short, 0)).toBe(23);
    expect(headEnd(short, 24)).toBe(-1);
    const long = Buffer.from(`GET / HTTP/1.1\r\nx: ${'a'.repeat(3000)}\r\n\r\n`, 'latin1');
    expect(headEnd(long, 0)).toBe(long.length - 4);
    expect(headEnd(long.subarray(0, long.length - 1), 0)).toBe(-1);
    expect(headEnd(Buffer.from('\r\n\r'), 0)).toBe(-1);
    // The CRLFCRLF straddling the end of the scanned stretch is found too.
    for (const pad of [1016, 1017, 1018, 1019, 1020, 1021, 1022]) {
      const b = Buffer.from(`${'a'.repeat(pad)}\r\n\r\nz`, 'latin1');
      expect(headEnd(b, 0)).toBe(pad);
    }
  });
});

describe('parseRequestHead', () => {
  const head = emptyRequestHead();
  const parse = (text: string): RequestHead | null => {
    const buf = Buffer.from(`${text}\r\n\r\n`, 'latin1');
    return parseRequestHead(buf, 0, headEnd(buf, 0), head) ? head : null;
  };

  it('reads method, target and fields (OWS trimmed, names as spelled) into the reused head', () => {
    const h = parse('POST /a?b=1 HTTP/1.1\r\nHost: app\r\nX-A:  one two \t\r\nx-empty:\r\nContent-Length: 5')!;
    expect(h).toMatchObject({ method: 'POST', url: '/a?b=1', bodyBytes: 5, close: false });
    expect(h.raw).toEqual(['Host', 'app', 'X-A', 'one two', 'x-empty', '', 'Content-Length', '5']);
    expect(h.headBytes).toBe(
      Buffer.byteLength('POST /a?b=1 HTTP/1.1\r\nHost: app\r\nX-A:  one two \t\r\nx-empty:\r\nContent-Length: 5\r\n\r\n'),
    );
    // The next request refills the same head and list.
    expect(parse('GET / HTTP/1.1\r\nhost: b\r\nconnection: close')!.raw).toEqual(['host', 'b', 'connection', 'close']);
    expect(head.close).toBe(true);
  });

  it('says "not mine" for what node:http must carry, and for malformed heads', () => {
    expect(parse('GET / HTTP/1.0\r\nhost: a')).toBeNull();
    expect(parse('GET / HTTP/1.1\r\nupgrade: websocket')).toBeNull();
    expect(parse('GET / HTTP/1.1\r\nconnection: keep-alive, Upgrade')).toBeNull();
    expect(parse('POST / HTTP/1.1\r\nexpect: 100-continue')).toBeNull();
    expect(parse('POST / HTTP/1.1\r\ntransfer-encoding: chunked')).toBeNull();
    expect(parse('POST / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 1')).toBeNull();
    expect(parse('POST / HTTP/1.1\r\ncontent-length: -1')).toBeNull();
    expect(parse('CONNECT a:443 HTTP/1.1\r\nhost: a')).toBeNull();
    expect(parse('GET / HTTP/1.1\r\nbad header')).toBeNull();
    expect(parse('GET / HTTP/1.1\r\n: empty name')).toBeNull();
    expect(parse('GET / HTTP/1.1\r\nbad name: x')).toBeNull();
    expect(parse('GET / HTTP/1.1\r\nx: a\rb')).toBeNull();
    expect(parse('GET / HTTP/1.1\r\nx: a\u0000b')).toBeNull();
    expect(parse('GET / HTTP/1.1\r\n folded: x')).toBeNull();
  });
});
