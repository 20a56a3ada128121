import { connect } from 'node:net';

/** An answer read off the socket as sent: no client normalised the request on its way out. */
export interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `head` (the request line and fields, without the blank line) and `body` exactly as written over a
 * fresh TCP connection, and reads the answer's head and body up to `maxBodyBytes` (a stream is cut there).
 */
export function rawRequest(
  port: number,
  head: string,
  body = '',
  opts: { timeoutMs?: number; maxBodyBytes?: number } = {},
): Promise<RawReply> {
  const maxBody = opts.maxBodyBytes ?? 1 << 20;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no complete answer to ${head.split('\r\n')[0]}: ${JSON.stringify(text.slice(0, 200))}`));
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(end + 4) });
    };
    const timer = setTimeout(finish, opts.timeoutMs ?? 5000);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end >= 0) {
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end));
        if ((length && size - end - 4 >= Number(length[1])) || size - end - 4 >= maxBody) finish();
        // A server-sent-events stream never ends: its head is the answer.
        if (/\r\ncontent-type:\s*text\/event-stream/i.test(text.slice(0, end))) finish();
      }
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', (err) => {
      if (chunks.length > 0) finish();
      else if (!done) {
        done = true;
        clearTimeout(timer);
        reject(err);
      }
    });
    const payload = Buffer.from(body);
    const fields = body.length > 0 && !/\r\ncontent-length:/i.test(head) ? `\r\ncontent-length: ${payload.length}` : '';
    socket.write(`${head}${fields}\r\nconnection: close\r\n\r\n`);
    if (payload.length > 0) socket.write(payload);
  });
}
