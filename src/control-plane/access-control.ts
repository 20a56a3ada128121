import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthError, ForbiddenError } from '../core/index.js';
import type { AccessTokens, Caller } from './access-tokens.js';
import { type Permission, permits, ROLES } from './permissions.js';
import type { SignInThrottle } from './sign-in-throttle.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The token's holder once the access hook has accepted it; null on public routes. */
    caller: Caller | null;
  }
}

export interface AccessControlOptions {
  tokens: AccessTokens;
  throttle: SignInThrottle;
  /**
   * Host names (or IP addresses) accepted in `Host` besides the loopback names and the bound address; a leading dot
   * accepts that name and every subdomain (`.example.com`). Refusing other hosts stops DNS rebinding.
   */
  allowedHosts?: string[];
}

/** One registered route and what it needs; the route-enumeration test walks this list. */
export interface RouteAccess {
  method: string;
  url: string;
  permission: Permission | undefined;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** An HTTP error with a status of its own (421, 429); api-error.ts gives it the API's body. */
function httpError(statusCode: number, message: string): Error {
  return Object.assign(new Error(message), { statusCode });
}

const what: Record<Permission, string> = {
  public: 'do this',
  whoami: 'ask who it is',
  read: 'read the API',
  'routeTable:read': 'read route tables',
  'telemetry:write': 'send telemetry',
  'releases:write': 'change releases',
  'routes:write': 'change route rules',
  'demo:write': 'switch the demo traffic',
  'services:write': 'register or delete services and versions (their workloads run commands on this host)',
  'tokens:admin': 'manage tokens',
};

/** `Host` -> its host name, lower case, without port, brackets or a trailing dot; null when it is not one. */
export function hostnameOf(host: string): string | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]/@]+)(:\d{1,5})?$/.exec(host.trim());
  if (!m) return null;
  return m[1]!
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
}

function isLoopback(name: string): boolean {
  return name === 'localhost' || name === '::1' || (isIP(name) === 4 && name.startsWith('127.'));
}

/**
 * The one access check of the API, on every request: the `Host` must be the control plane's own (421 otherwise, which
 * stops DNS rebinding); a mutating request carrying an `Origin` must come from the console's own origin (403); then the
 * permission that the MATCHED route declares in its definition (`config.permission`) must be one the caller's token
 * grants: 401 without a valid token (429 after repeated failures from one address), 403 when the role lacks it.
 * The raw URL is never consulted for the decision, so no spelling of a path reaches a handler unchecked.
 * Returns the list of routes as registered, each with its permission; a route without one fails `app.ready()`.
 */
export function installAccessControl(app: FastifyInstance, options: AccessControlOptions): RouteAccess[] {
  const { tokens, throttle } = options;
  const routes: RouteAccess[] = [];
  const extraHosts = (options.allowedHosts ?? []).map((h) => h.trim().toLowerCase().replace(/\.$/, '')).filter((h) => h.length > 0);

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    // The OpenAPI document says what each call needs (the swagger plugin reads the schema when it is asked for).
    const permission = route.config?.permission;
    if (route.schema && permission && permission !== 'public') {
      const roles = ROLES.filter((r) => permits(r, permission)).join(', ');
      const note = `Needs permission \`${permission}\` (roles: ${roles}).`;
      const schema = route.schema as { description?: string };
      // The HEAD route Fastify adds for a GET shares its schema: note it once.
      if (!schema.description?.includes(note)) schema.description = schema.description ? `${schema.description}\n\n${note}` : note;
    }
    // Read at ready time: a later onRoute hook (the console's) may still set it.
    for (const method of methods)
      routes.push({
        method,
        url: route.url,
        get permission() {
          return route.config?.permission;
        },
      } as RouteAccess);
  });
  app.addHook('onReady', async () => {
    const missing = routes.filter((r) => r.permission === undefined);
    if (missing.length > 0) {
      throw new Error(`routes without a permission (config.permission): ${missing.map((r) => `${r.method} ${r.url}`).join(', ')}`);
    }
  });

  let interfaceNames: { at: number; names: Set<string> } = { at: 0, names: new Set() };
  const localAddresses = (): Set<string> => {
    if (Date.now() - interfaceNames.at > 30_000) {
      const names = new Set<string>();
      for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(a.address.toLowerCase());
      interfaceNames = { at: Date.now(), names };
    }
    return interfaceNames.names;
  };

  const hostAllowed = (name: string): boolean => {
    if (isLoopback(name)) return true;
    for (const h of extraHosts) if (h === name || (h.startsWith('.') && (name.endsWith(h) || name === h.slice(1)))) return true;
    const bound = app.server.address();
    if (bound && typeof bound === 'object') {
      const addr = bound.address.toLowerCase();
      if (addr === name) return true;
      // Bound to every interface: any address of this machine is the control plane's own.
      if ((addr === '0.0.0.0' || addr === '::') && isIP(name) !== 0 && localAddresses().has(name)) return true;
    }
    return false;
  };

  /** The authority the request was sent to: the absolute-form target's when there is one (RFC 9112 3.2.2), else Host. */
  const authorityOf = (req: FastifyRequest): string | undefined => {
    const target = req.raw.url ?? '';
    if (!target.startsWith('/') && target !== '*') {
      try {
        const u = new URL(target);
        if (u.protocol === 'http:' || u.protocol === 'https:') return u.host;
      } catch {
        // not a URL: fall through to Host, the router refuses the target
      }
      return undefined;
    }
    return req.headers.host;
  };

  app.decorateRequest('caller', null);
  app.addHook('onRequest', async (req, reply) => {
    const authority = authorityOf(req);
    const hostname = authority === undefined ? null : hostnameOf(authority);
    // An HTTP/1.0 request may come without Host (old health checkers); no browser sends one, so it is no rebinding.
    const hostless = authority === undefined && req.raw.httpVersion === '1.0' && (req.raw.url ?? '').startsWith('/');
    if (!hostless && (hostname === null || !hostAllowed(hostname))) {
      throw httpError(
        421,
        `Host "${authority ?? ''}" is not this control plane's: it answers to localhost, 127.0.0.1, ::1 and the address it is bound to` +
          ' (add other names with --allowed-hosts, e.g. when it sits behind a load balancer)',
      );
    }
    const origin = req.headers.origin;
    if (origin !== undefined && MUTATING.has(req.method)) {
      let originHost: string | null = null;
      try {
        const u = new URL(origin);
        if (u.protocol === 'http:' || u.protocol === 'https:') originHost = u.host.toLowerCase();
      } catch {
        // `null` or garbage: not the console's
      }
      if (originHost === null || originHost !== authority?.toLowerCase()) {
        throw new ForbiddenError(
          `cross-site request refused: Origin "${origin}" is not this control plane's console (${authority}); changes come from the console's own pages, the CLI or scripts without an Origin`,
        );
      }
    }

    const need = req.is404 ? notFoundNeed(req.raw.url ?? '') : req.routeOptions.config.permission;
    if (need === 'public') return;
    if (need === undefined) throw new ForbiddenError('this route declares no permission; refused'); // fail closed

    const address = req.socket.remoteAddress ?? 'unknown';
    const throttleKey = throttleKeyOf(address);
    const wait = throttle.waitMs(throttleKey);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      reply.header('retry-after', String(seconds));
      throw httpError(429, `too many rejected tokens from ${address}: try again in ${seconds} s`);
    }
    const header = req.headers.authorization;
    if (!header) {
      throw new AuthError(
        'missing token: send "Authorization: Bearer <token>" (the admin token is in the data directory, file admin-token)',
      );
    }
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!m) throw new AuthError('malformed Authorization header: expected "Bearer <token>"');
    const verdict = tokens.verify(m[1]!);
    if ('problem' in verdict) {
      throttle.failed(throttleKey);
      throw new AuthError(
        verdict.problem === 'expired'
          ? 'token expired: ask an admin for a new one (canary token create)'
          : 'invalid token (unknown, revoked, or from another control plane)',
      );
    }
    req.caller = verdict.caller;
    req.actor = verdict.caller.name;
    if (need !== 'authenticated' && !permits(verdict.caller.role, need)) {
      throw new ForbiddenError(
        `role ${verdict.caller.role} (token "${verdict.caller.name}") may not ${what[need]}: ${req.method} ${req.routeOptions.url ?? ''} needs permission ${need}`,
      );
    }
  });
  return routes;
}

/**
 * Whom the sign-in throttle counts: an IPv4 client (IPv4-mapped too) by its address, an IPv6 client by its /64, which
 * one client usually holds whole; counted by address, it would get a fresh set of guesses from each of 2^64 addresses.
 */
export function throttleKeyOf(address: string): string {
  if (isIP(address) !== 6) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const halves = address.split('%')[0]!.toLowerCase().split('::');
  const left = halves[0] ? halves[0].split(':') : [];
  const right = halves[1] ? halves[1].split(':') : [];
  const count = (g: string[]) => g.reduce((n, x) => n + (x.includes('.') ? 2 : 1), 0);
  const groups = halves.length > 1 ? [...left, ...Array<string>(Math.max(0, 8 - count(left) - count(right))).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * What an unmatched request needs: nothing is served there either way (the console's index.html or a 404 body), but an
 * API-looking path wants a valid token first, so that no one without one can probe which API routes exist.
 */
function notFoundNeed(target: string): 'public' | 'authenticated' {
  let path = target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').split('?')[0] ?? '';
  for (let i = 0; i < 3 && path.includes('%'); i++) {
    try {
      path = decodeURIComponent(path);
    } catch {
      break;
    }
  }
  return /^\/*api(?:[/;]|$)/i.test(path) ? 'authenticated' : 'public';
}
