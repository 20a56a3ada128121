import type { IncomingMessage, ServerResponse } from 'node:http';
import { type BookinfoEnv, type BookinfoHandler, parseId, sendJson, serveIfMain } from './bookinfo-server.js';
import { BOOKINFO_CSS, DETAILS_UNAVAILABLE, PRODUCT, REVIEWS_UNAVAILABLE, renderProductPage } from './render-product-page.js';
import type { ReviewsReply } from './reviews.js';
import { forwardHeaders } from './trace-headers.js';

const CALL_TIMEOUT_MS = 3000;
const USER_COOKIE = 'user';

/** The signed-in user from the `user` cookie, or null. */
export function userFromCookie(cookie: string | undefined): string | null {
  if (!cookie) return null;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== USER_COOKIE) continue;
    try {
      const v = decodeURIComponent(part.slice(eq + 1).trim());
      return v === '' ? null : v;
    } catch {
      return null;
    }
  }
  return null;
}

/** Headers for downstream calls: the forwarded ones, plus `end-user` when signed in (Istio's request-routing task). */
function downstreamHeaders(req: IncomingMessage): Record<string, string> {
  const headers = forwardHeaders(req.headers);
  const user = userFromCookie(req.headers.cookie);
  if (user) headers['end-user'] = user;
  return headers;
}

async function readForm(req: IncomingMessage, limit = 4096): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) throw new Error(`form body larger than ${limit} bytes`);
  }
  return new URLSearchParams(body);
}

function redirect(res: ServerResponse, location: string, cookie?: string): void {
  const headers: Record<string, string> = { location, 'content-length': '0' };
  if (cookie) headers['set-cookie'] = cookie;
  res.writeHead(302, headers).end();
}

/** productpage: the HTML page, sign-in and sign-out, and the JSON API. */
export function productpageHandler(env: BookinfoEnv): BookinfoHandler {
  const { mesh } = env;

  /** Calls a service; the parsed JSON on 200, null (and a log line) otherwise. */
  const fetchJson = async <T>(
    service: string,
    path: string,
    headers: Record<string, string>,
  ): Promise<{ status: number; body: T | null }> => {
    try {
      const r = await mesh.get(service, path, headers, CALL_TIMEOUT_MS);
      if (r.status === 200) return { status: 200, body: JSON.parse(r.body) as T };
      process.stderr.write(`productpage: ${service} ${path} answered ${r.status}\n`);
      return { status: r.status, body: null };
    } catch (err) {
      process.stderr.write(`productpage: ${service} ${path} failed: ${err instanceof Error ? err.message : String(err)}\n`);
      return { status: 503, body: null };
    }
  };

  /** A JSON API call passed through; a failure answers with the downstream status (or 503) and a message. */
  const relay = async (res: ServerResponse, service: string, path: string, headers: Record<string, string>, unavailable: string) => {
    const r = await fetchJson<unknown>(service, path, headers);
    if (r.body !== null) return sendJson(res, 200, r.body);
    sendJson(res, r.status >= 400 ? r.status : 503, { error: unavailable });
  };

  return async (req, res, url) => {
    const path = url.pathname;
    const method = req.method ?? 'GET';

    if (method === 'GET' && (path === '/productpage' || path === '/')) {
      if (path === '/') return redirect(res, '/productpage');
      const headers = downstreamHeaders(req);
      const [details, reviews] = await Promise.all([
        fetchJson<Record<string, unknown>>('details', `/details/${PRODUCT.id}`, headers),
        fetchJson<ReviewsReply>('reviews', `/reviews/${PRODUCT.id}`, headers),
      ]);
      const html = renderProductPage({ user: userFromCookie(req.headers.cookie), details: details.body, reviews: reviews.body });
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': Buffer.byteLength(html),
        'cache-control': 'no-store',
      });
      res.end(html);
      return;
    }

    if (method === 'POST' && path === '/login') {
      const user = (await readForm(req)).get('username')?.trim() ?? '';
      if (user === '') return redirect(res, '/productpage');
      return redirect(res, '/productpage', `${USER_COOKIE}=${encodeURIComponent(user)}; Path=/; SameSite=Lax`);
    }
    if (method === 'GET' && path === '/logout') {
      return redirect(res, '/productpage', `${USER_COOKIE}=; Path=/; Max-Age=0; SameSite=Lax`);
    }

    if (method === 'GET' && path === '/static/bookinfo.css') {
      res.writeHead(200, {
        'content-type': 'text/css; charset=utf-8',
        'content-length': Buffer.byteLength(BOOKINFO_CSS),
        'cache-control': 'max-age=300',
      });
      res.end(BOOKINFO_CSS);
      return;
    }

    if (method === 'GET' && (path === '/api/v1/products' || path.startsWith('/api/v1/products/'))) {
      const [, , , , idText, what, extra] = path.split('/');
      if (idText === undefined || (idText === '' && what === undefined)) return sendJson(res, 200, [PRODUCT]);
      const id = parseId(idText);
      if (id === undefined || extra !== undefined) {
        return sendJson(res, 404, {
          error: `no such resource: ${path}; try /api/v1/products/0, /api/v1/products/0/reviews or /api/v1/products/0/ratings`,
        });
      }
      const headers = downstreamHeaders(req);
      if (what === undefined) return relay(res, 'details', `/details/${id}`, headers, DETAILS_UNAVAILABLE);
      if (what === 'reviews') return relay(res, 'reviews', `/reviews/${id}`, headers, REVIEWS_UNAVAILABLE);
      if (what === 'ratings')
        return relay(res, 'ratings', `/ratings/${id}`, headers, 'Sorry, product ratings are currently unavailable for this book.');
    }

    sendJson(res, 404, { error: `no such page: ${method} ${path}; the product page is /productpage` });
  };
}

serveIfMain(import.meta.url, 'productpage', productpageHandler);
