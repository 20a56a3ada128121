import type { RequestView } from '../core/index.js';
import { equalsLower, rawHeader } from './forward-headers.js';

function decodeComponent(value: string): string {
  if (value.indexOf('%') === -1 && value.indexOf('+') === -1) return value;
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

function joinedCookies(raw: readonly string[], first: string): string {
  let joined: string | undefined;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    if (!equalsLower(raw[i]!, 'cookie')) continue;
    if (++seen === 1) continue;
    joined = `${joined ?? first}; ${raw[i + 1]}`;
  }
  return joined ?? first;
}

/**
 * The request as the core's matchers see it. One instance per proxy is reused for every request: matching is
 * synchronous, so no two requests ever use it at once. Headers are looked up in `rawHeaders` on demand and the
 * query string is scanned only when a rule asks for a parameter, so requests that no rule inspects cost nothing.
 */
export class ReusableRequestView implements RequestView {
  method = '';
  path = '';
  private url = '';
  private queryStart = -1;
  private raw: readonly string[] = [];
  /** The request's Cookie fields joined (undefined: none), once a rule has asked; null: not looked up yet. */
  private cookies: string | undefined | null = null;

  reset(method: string, url: string, raw: readonly string[]): void {
    this.method = method;
    this.url = url;
    this.raw = raw;
    this.cookies = null;
    const q = url.indexOf('?');
    this.queryStart = q;
    this.path = q === -1 ? url : url.slice(0, q);
  }

  /** Drops the references to the request so it can be collected. */
  clear(): void {
    this.raw = [];
    this.url = '';
    this.cookies = null;
  }

  header(name: string): string | undefined {
    if (name === 'cookie') return this.cookieHeader();
    return rawHeader(this.raw, name);
  }

  /** Several Cookie fields (as HTTP/2 hops produce) form one list, like Node's req.headers.cookie; found once per request. */
  private cookieHeader(): string | undefined {
    const known = this.cookies;
    if (known !== null) return known;
    const first = rawHeader(this.raw, 'cookie');
    const value = first === undefined ? undefined : joinedCookies(this.raw, first);
    this.cookies = value;
    return value;
  }

  query(name: string): string | undefined {
    if (this.queryStart === -1) return undefined;
    const url = this.url;
    const n = url.length;
    let i = this.queryStart + 1;
    while (i <= n) {
      let end = url.indexOf('&', i);
      if (end === -1) end = n;
      const eq = url.indexOf('=', i);
      const keyEnd = eq !== -1 && eq < end ? eq : end;
      if (keyEnd - i === name.length && url.startsWith(name, i)) {
        return keyEnd === end ? '' : decodeComponent(url.slice(keyEnd + 1, end));
      }
      i = end + 1;
    }
    return undefined;
  }
}
