import { Agent, request } from 'node:http';

export interface MeshReply {
  status: number;
  body: string;
}

/**
 * Calls other services through the mesh: every call goes to MESH_OUTBOUND (this instance's outbound listener
 * in the proxy) with `Host: <service>`, over kept-alive connections. The proxy picks the version.
 */
export class MeshClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64, keepAliveMsecs: 1000 });
  private readonly host: string;
  private readonly port: number;

  constructor(outbound: string) {
    let url: URL;
    try {
      url = new URL(outbound);
    } catch {
      throw new Error(`MESH_OUTBOUND: must be a URL such as http://127.0.0.1:15001, got "${outbound}"`);
    }
    if (url.protocol !== 'http:') throw new Error(`MESH_OUTBOUND: must be an http:// URL, got "${outbound}"`);
    this.host = url.hostname;
    this.port = Number(url.port || 80);
  }

  /** GET `path` of `service`; resolves with any HTTP status, rejects on connection failure or timeout. */
  get(service: string, path: string, headers: Record<string, string>, timeoutMs: number): Promise<MeshReply> {
    return this.attempt(service, path, headers, timeoutMs, true);
  }

  private attempt(
    service: string,
    path: string,
    headers: Record<string, string>,
    timeoutMs: number,
    mayRetry: boolean,
  ): Promise<MeshReply> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: this.host,
          port: this.port,
          path,
          method: 'GET',
          agent: this.agent,
          headers: { ...headers, host: service },
          timeout: timeoutMs,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${service} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive connection the other side closed just as we reused it: one retry on a fresh one.
        if (mayRetry && req.reusedSocket && err.code === 'ECONNRESET') {
          this.attempt(service, path, headers, timeoutMs, false).then(resolve, reject);
        } else reject(err);
      });
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
