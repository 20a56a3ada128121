import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { notFoundBody } from './api-error.js';

/** `web/dist` of the package (src/control-plane/ or dist/control-plane/ are two levels below the root). */
export const defaultConsoleDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web', 'dist');

/**
 * Serves the console's built files at `/` when the folder exists. Returns the not-found handler: the SPA
 * fallback (index.html) for page paths, the API's 404 body for `/api` and everything else.
 */
export async function registerConsole(
  app: FastifyInstance,
  dir: string = defaultConsoleDir,
): Promise<(req: FastifyRequest, reply: FastifyReply) => unknown> {
  const hasConsole = existsSync(join(dir, 'index.html'));
  if (hasConsole) {
    // The console's files are public (the sign-in page must load without a token); the static plugin registers
    // one route per file, each carrying its root folder in its config: those, and only those, are declared public.
    const root = resolve(dir);
    app.addHook('onRoute', (route) => {
      const rootPath = (route.config as { rootPath?: unknown } | undefined)?.rootPath;
      if (route.config && typeof rootPath === 'string' && resolve(rootPath) === root) route.config.permission = 'public';
    });
    await app.register(fastifyStatic, { root: dir, prefix: '/', wildcard: false, index: ['index.html'] });
  }
  return (req, reply) => {
    const path = req.url.split('?')[0]!;
    const isPage =
      (req.method === 'GET' || req.method === 'HEAD') && !path.startsWith('/api/') && path !== '/api' && !/\.[a-z0-9]+$/i.test(path);
    if (hasConsole && isPage) return reply.type('text/html; charset=utf-8').sendFile('index.html');
    return reply.status(404).send(notFoundBody(req));
  };
}
