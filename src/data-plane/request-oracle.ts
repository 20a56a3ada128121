import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { ANSWER_OPTIONS, FORWARD, refusal, requestVerdict, targetTooLongSoFar } from './http1-wire.js';
import { type LlhttpBinding, MAX_HEAD_BYTES } from './llhttp.js';
import { FRAME_HAND_OFF, FRAME_MORE, FRAME_REFUSE, RequestParser } from './request-parser.js';

// The request side of the differential test (http1-differential.ts): the proxy's framing and node:http's, side by side.

/** One request as framed: what must match between the proxy and the oracle. */
export interface FramedRequest {
  method: string;
  url: string;
  versionMinor: number;
  raw: string[];
  body: string;
}

/** How an input ended: accepted to the end, refused, cut short (waiting for more), or switched protocols. */
export type FramingEnd = 'ok' | 'refused' | 'incomplete' | 'upgrade' | 'timeout';

export interface FramingResult {
  requests: FramedRequest[];
  end: FramingEnd;
  /** The status the client would get when refused (informational: a read boundary can turn 414 into 431). */
  status: number;
  /** The proxy handed the connection to node:http part-way (informational). */
  handedOver?: boolean;
}

/** Reads the input on one connection to the oracle node:http server and records what it framed. */
interface OracleConnection {
  result: FramingResult;
  open: number;
  done: () => void;
}

/**
 * A node:http server as the oracle: records each request it parses (with the proxy's rules applied on top), its
 * body, and how the connection ended. Requests on one connection are recorded in order.
 */
export class RequestOracle {
  private server: Server | null = null;
  private port = 0;
  private readonly byPort = new Map<number, OracleConnection>();

  async start(): Promise<void> {
    const server = createServer({ maxHeaderSize: MAX_HEAD_BYTES, requireHostHeader: false, keepAliveTimeout: 5000 }, (req, res) => {
      const conn = this.byPort.get(req.socket.remotePort ?? 0);
      const record = conn === undefined ? null : this.admit(conn, req);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (record !== null) {
          record.body = Buffer.concat(chunks).toString('latin1');
          conn!.open--;
        }
        res.end();
      });
    });
    server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
      const conn = this.byPort.get(socket.remotePort ?? 0);
      if (conn !== undefined && conn.result.end === 'ok') {
        if (err.code === 'HPE_INVALID_EOF_STATE') conn.result.end = 'incomplete';
        else if (err.code === 'HPE_CLOSED_CONNECTION') {
          // Bytes after a request that asked to close: ignored, as the proxy ignores them.
        } else {
          conn.result.end = 'refused';
          const packet = err.rawPacket;
          const tooLong = err.code === 'HPE_HEADER_OVERFLOW' && packet !== undefined && targetTooLongSoFar(packet, packet.length);
          conn.result.status = refusal(tooLong ? 'URI_TOO_LONG' : (err.code ?? '')).status;
        }
      }
      socket.destroy();
    });
    // An expectation node:http does not know: it answers 417 itself and forwards nothing.
    server.on('checkExpectation', (req: IncomingMessage, res) => {
      const conn = this.byPort.get(req.socket.remotePort ?? 0);
      if (conn !== undefined && this.admit(conn, req) !== null) {
        conn.result.requests.pop();
        conn.open--;
        conn.result.end = 'refused';
        conn.result.status = 417;
      }
      res.writeHead(417);
      res.end();
      req.socket.destroy();
    });
    server.on('connect', (req: IncomingMessage, socket: Socket) => {
      const conn = this.byPort.get(socket.remotePort ?? 0);
      if (conn !== undefined) this.admit(conn, req);
      socket.destroy();
    });
    server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      const conn = this.byPort.get(socket.remotePort ?? 0);
      if (conn !== undefined && this.admit(conn, req) !== null) {
        conn.open--;
        conn.result.end = 'upgrade';
      }
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Records a parsed request unless the proxy's rules refuse it (then the connection's story ends there). */
  private admit(conn: OracleConnection, req: IncomingMessage): FramedRequest | null {
    const result = conn.result;
    if (result.end !== 'ok') return null;
    const verdict = requestVerdict(req.method ?? '', req.url ?? '', req.httpVersionMinor, req.rawHeaders);
    if (verdict !== FORWARD && verdict !== ANSWER_OPTIONS) {
      result.end = 'refused';
      result.status = refusal(verdict).status;
      return null;
    }
    const record: FramedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      versionMinor: req.httpVersionMinor,
      raw: req.rawHeaders,
      body: '',
    };
    result.requests.push(record);
    conn.open++;
    return record;
  }

  /** Sends `input` on a fresh connection (then half-closes) and resolves with what the server framed. */
  frame(input: Buffer, timeoutMs = 3000): Promise<FramingResult> {
    return new Promise((resolve) => {
      const socket = connect(this.port, '127.0.0.1');
      const result: FramingResult = { requests: [], end: 'ok', status: 0 };
      let finished = false;
      const conn: OracleConnection = { result, open: 0, done: () => undefined };
      const finish = (): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        this.byPort.delete(socket.localPort ?? 0);
        // A request whose body never ended is not a request the proxy would forward.
        if (conn.open > 0) {
          result.requests.pop();
          if (result.end === 'ok') result.end = 'incomplete';
        }
        socket.destroy();
        resolve(result);
      };
      const timer = setTimeout(() => {
        if (result.end === 'ok') result.end = 'timeout';
        finish();
      }, timeoutMs);
      socket.on('error', finish);
      socket.on('close', finish);
      socket.on('data', () => undefined);
      socket.on('connect', () => {
        this.byPort.set(socket.localPort ?? 0, conn);
        socket.end(input);
      });
    });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function onlyLineBreaks(buf: Buffer): boolean {
  for (const c of buf) if (c !== 13 && c !== 10) return false;
  return true;
}

/**
 * The proxy's side: `RequestParser.frame` over the input cut into `pieces`, exactly as FastConnection drives it;
 * at a hand-over, the rest of the input goes to node:http (the oracle's server, on a new connection), as in the
 * proxy.
 */
export async function proxyFrames(b: LlhttpBinding, pieces: Buffer[], oracle: RequestOracle, timeoutMs = 3000): Promise<FramingResult> {
  const parser = new RequestParser(b);
  const result: FramingResult = { requests: [], end: 'ok', status: 0 };
  let pending: Buffer | null = null;
  let consumed = 0;
  let handOffAt = -1;
  const all = Buffer.concat(pieces);
  try {
    outer: for (const piece of pieces) {
      pending = pending === null ? Buffer.from(piece) : Buffer.concat([pending, piece]);
      for (;;) {
        const frame = parser.frame(pending);
        if (frame === FRAME_MORE) break;
        if (frame === FRAME_REFUSE) {
          result.end = 'refused';
          result.status = refusal(parser.refusalReason).status;
          return result;
        }
        if (frame === FRAME_HAND_OFF) {
          handOffAt = consumed;
          break outer;
        }
        const head = parser.head;
        const total = parser.total;
        result.requests.push({
          method: head.method,
          url: head.url,
          versionMinor: head.versionMinor,
          raw: head.raw,
          body: pending.toString('latin1', head.headBytes, total),
        });
        consumed += total;
        parser.messageDone();
        pending = pending.length === total ? null : pending.subarray(total);
        // The connection ends after a request that asked to close: later bytes are never read.
        if (head.close) return result;
        if (pending === null) break;
      }
    }
  } finally {
    parser.close();
  }
  if (handOffAt !== -1) {
    const rest = await oracle.frame(all.subarray(handOffAt), timeoutMs);
    result.handedOver = true;
    result.requests.push(...rest.requests);
    result.end = rest.end;
    result.status = rest.status;
    return result;
  }
  if (pending !== null && !onlyLineBreaks(pending)) result.end = 'incomplete';
  return result;
}
