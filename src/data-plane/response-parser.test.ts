import { describe, expect, it } from 'vitest';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BODY_UNTIL_CLOSE } from './http1-wire.js';
import { llhttpParser } from './llhttp.js';
import { ResponseParser } from './response-parser.js';

/** Reads one answer as the upstream connection does (`noBody`: it answered a HEAD). */
function read(answer: string, noBody = false): ResponseParser {
  const p = new ResponseParser(llhttpParser()!);
  p.begin(noBody);
  p.feed(Buffer.from(answer, 'latin1'));
  return p;
}

describe('ResponseParser', () => {
  it('keeps the end-to-end fields and drops hop-by-hop ones and those Connection names (never Content-Length)', () => {
    const p = read(
      'HTTP/1.1 200 OK\r\nDate: x\r\nConnection: keep-alive, X-Private, content-length\r\nKeep-Alive: timeout=5\r\n' +
        'X-Private: 1\r\nUpgrade: h2c\r\nProxy-Authenticate: y\r\nx-b: 2 \r\nContent-Length: 5\r\n\r\nhello',
    );
    expect(p.error).toBe('');
    expect(p.head.statusLine).toBe('HTTP/1.1 200 OK\r\n');
    expect(p.head.fields).toBe('Date: x\r\nx-b: 2\r\ncontent-length: 5\r\n');
    expect(p.head).toMatchObject({ status: 200, framing: BODY_LENGTH, contentLength: 5, close: false });
    expect(p.done).toBe(true);
  });

  it('makes an HTTP/1.1 status line, with the standard reason when there is none or it holds control characters', () => {
    expect(read('HTTP/1.0 404 Not Found\r\ncontent-length: 0\r\n\r\n').head).toMatchObject({
      statusLine: 'HTTP/1.1 404 Not Found\r\n',
      close: true,
    });
    expect(read('HTTP/1.1 503\r\ncontent-length: 0\r\n\r\n').head.statusLine).toBe('HTTP/1.1 503 Service Unavailable\r\n');
    expect(read('HTTP/1.1 200 O\x01K\r\ncontent-length: 0\r\n\r\n').head.statusLine).toBe('HTTP/1.1 200 OK\r\n');
  });

  it('frames by chunked coding, by length, or by the close; bodiless answers keep Content-Length', () => {
    expect(read('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n').head.framing).toBe(BODY_CHUNKED);
    expect(read('HTTP/1.1 200 OK\r\nx: y\r\n\r\n').head).toMatchObject({ framing: BODY_UNTIL_CLOSE, close: true, fields: 'x: y\r\n' });
    expect(read('HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n', true).head).toMatchObject({
      framing: BODY_NONE,
      fields: 'content-length: 42\r\n',
    });
    expect(read('HTTP/1.1 304 Not Modified\r\netag: "a"\r\n\r\n').head).toMatchObject({ framing: BODY_NONE, fields: 'etag: "a"\r\n' });
  });

  it('skips interim answers and decodes the final one, trailers checked', () => {
    const p = read(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2;x=y\r\nok\r\n0\r\nX-Sum: 1\r\n\r\n',
    );
    expect(p.head.status).toBe(200);
    expect(Buffer.concat(p.body).toString()).toBe('ok');
    expect(p.trailers).toBe('X-Sum: 1\r\n');
    expect(p.done).toBe(true);
  });

  it.each([
    ['HTTP/1.1 2000 OK\r\n\r\n', 'HPE_INVALID_STATUS'],
    ['HTTP/1.1 000 OK\r\ncontent-length: 0\r\n\r\n', 'UPSTREAM_STATUS'],
    ['HTTP/1.1 200 OK\r\ntransfer-encoding: xchunked\r\n\r\n', 'UPSTREAM_TRANSFER_ENCODING'],
    ['HTTP/1.1 101 Switching Protocols\r\n\r\n', 'UPSTREAM_SWITCHED_PROTOCOLS'],
    ['HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n\r\n', 'UPSTREAM_EXTRA_BYTES'],
  ])('refuses %j (%s)', (answer, error) => {
    expect(read(answer).error).toBe(error);
  });
});
