import { request as httpRequest } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server as NetServer } from 'node:net';
import { equalsLower, isHopByHopResponseHeader } from './forward-headers.js';
import type { LlhttpBinding } from './llhttp.js';
import { ResponseParser } from './response-parser.js';

// The response side of the differential test (http1-differential.ts): the proxy's reading and node:http's, side by side.

/** A response as relayed: what must match between the proxy and the oracle. */
export interface FramedResponse {
  accepted: boolean;
  status: number;
  /** End-to-end fields, `name: value` lines, in order. */
  fields: string[];
  body: string;
  trailers: string[];
}

function endToEnd(raw: readonly string[]): string[] {
  const named: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (equalsLower(raw[i]!, 'connection')) {
      for (const part of raw[i + 1]!.split(',')) {
        const t = part.trim().toLowerCase();
        if (t && t !== 'close' && t !== 'keep-alive' && t !== 'content-length') named.push(t);
      }
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (isHopByHopResponseHeader(name) || equalsLower(name, 'content-length') || named.includes(name.toLowerCase())) continue;
    out.push(`${name}: ${raw[i + 1]}`);
  }
  return out;
}

/** The proxy's side for an answer: ResponseParser over `pieces`, then the end of the connection. */
export function proxyReadsResponse(b: LlhttpBinding, pieces: Buffer[]): FramedResponse {
  const p = new ResponseParser(b);
  const out: FramedResponse = { accepted: false, status: 0, fields: [], body: '', trailers: [] };
  try {
    p.begin(false);
    let ok = true;
    for (const piece of pieces) {
      ok = p.feed(piece);
      for (const c of p.body) out.body += c.toString('latin1');
      if (!ok || p.done) break;
    }
    if (ok && !p.done) {
      ok = p.end();
      for (const c of p.body) out.body += c.toString('latin1');
    }
    // Bytes after a complete answer close the connection but do not undo the answer.
    out.accepted = p.done && (ok || p.error === 'UPSTREAM_EXTRA_BYTES');
    if (!out.accepted) return out;
    out.status = p.head.status;
    out.fields = p.head.fields.split('\r\n').filter((l) => l !== '' && !/^content-length:/i.test(l));
    out.trailers = p.trailers.split('\r\n').filter((l) => l !== '');
    return out;
  } finally {
    p.close();
  }
}

/** A raw server that answers each connection with the next queued bytes, then closes. */
export class ResponseOracle {
  private server: NetServer | null = null;
  private port = 0;
  private readonly queue = new Map<number, Buffer>();
  private nextId = 0;

  async start(): Promise<void> {
    const server = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', (d) => {
        const id = Number(/x-id: (\d+)/.exec(d.toString('latin1'))?.[1] ?? -1);
        const bytes = this.queue.get(id);
        this.queue.delete(id);
        socket.end(bytes ?? Buffer.alloc(0));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** What a node:http client makes of `answer`, with the proxy's rules applied (only plain `chunked`). */
  read(answer: Buffer, timeoutMs = 3000): Promise<FramedResponse> {
    const id = this.nextId++;
    this.queue.set(id, answer);
    return new Promise((resolve) => {
      const out: FramedResponse = { accepted: false, status: 0, fields: [], body: '', trailers: [] };
      let settled = false;
      const settle = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.queue.delete(id);
        resolve(out);
      };
      const timer = setTimeout(settle, timeoutMs);
      const req = httpRequest({ host: '127.0.0.1', port: this.port, path: '/', headers: { 'x-id': String(id) }, agent: false }, (res) => {
        res.on('data', (c: Buffer) => {
          out.body += c.toString('latin1');
        });
        res.on('end', () => {
          const te = res.headers['transfer-encoding'];
          // The proxy relays plain chunked coding only (llhttp reads any other coding until the close).
          // Nor a status below 100 (llhttp takes `000`).
          if ((te === undefined || te.toLowerCase() === 'chunked') && (res.statusCode ?? 0) >= 100) {
            out.accepted = true;
            out.status = res.statusCode ?? 0;
            out.fields = endToEnd(res.rawHeaders);
            const trailers = res.rawTrailers;
            for (let i = 0; i < trailers.length; i += 2) {
              const name = trailers[i]!;
              if (isHopByHopResponseHeader(name) || equalsLower(name, 'content-length') || equalsLower(name, 'host')) continue;
              out.trailers.push(`${name}: ${trailers[i + 1]}`);
            }
          }
          settle();
        });
        res.on('error', settle);
        res.on('aborted', settle);
      });
      req.on('error', settle);
      req.end();
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
