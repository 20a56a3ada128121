import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Name } from '../core/index.js';
import { type ApiContext, typed } from './api-context.js';
import { errorResponses } from './api-schemas.js';
import { type AccessTokens, parseDuration } from './access-tokens.js';
import { ROLES, rolePermissions, TOKEN_ROLES } from './permissions.js';

const TokenInfoSchema = z.object({
  name: z.string(),
  role: z.enum(ROLES),
  createdAt: z.string().nullable(),
  createdBy: z.string().nullable(),
  expiresAt: z.string().nullable(),
  source: z.enum(['stored', 'bootstrap', 'process']).meta({
    description:
      'stored: created through this API; bootstrap: the data directory admin token; process: minted for one run (the proxy of canary up)',
  }),
});

const CreateTokenBody = z.strictObject({
  name: Name,
  role: z.enum(TOKEN_ROLES),
  expiresIn: z.string().optional().meta({ description: 'e.g. 30d, 12h, 90m; omit for a token that does not expire' }),
});

const WhoAmISchema = z.object({
  name: z.string(),
  role: z.enum(ROLES),
  permissions: z.array(z.string()),
});

/** Tokens (admin only) and `whoami` (any person's token): the console shows who is signed in and hides what the role may not do. */
export function registerTokensApi(app: FastifyInstance, _ctx: ApiContext, tokens: AccessTokens): void {
  const api = typed(app);
  const tags = ['tokens'];
  const admin = { permission: 'tokens:admin' as const };

  api.get(
    '/api/v1/whoami',
    {
      config: { permission: 'whoami' },
      schema: { tags, summary: "The caller's token name, role and permissions", response: { 200: WhoAmISchema, ...errorResponses } },
    },
    async (req) => {
      const caller = req.caller!;
      return { name: caller.name, role: caller.role, permissions: [...rolePermissions[caller.role]] };
    },
  );

  api.get(
    '/api/v1/tokens',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Every token: name, role, expiry (never a value or hash)',
        response: { 200: z.object({ items: z.array(TokenInfoSchema) }), ...errorResponses },
      },
    },
    async () => ({ items: tokens.list() }),
  );

  api.post(
    '/api/v1/tokens',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Create a token; the answer carries its value, shown this once (only a salted hash is stored)',
        body: CreateTokenBody,
        response: { 201: TokenInfoSchema.extend({ token: z.string() }), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { name, role, expiresIn } = req.body;
      const created = tokens.create(
        { name, role, ...(expiresIn !== undefined ? { expiresInMs: parseDuration(expiresIn, 'expiresIn') } : {}) },
        req.actor,
      );
      // Never cached anywhere on the way back.
      return reply
        .status(201)
        .header('cache-control', 'no-store')
        .send({ ...created.info, token: created.token });
    },
  );

  api.delete(
    '/api/v1/tokens/:name',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Revoke a token: its next request gets 401',
        params: z.object({ name: z.string() }),
        response: { 200: TokenInfoSchema, ...errorResponses },
      },
    },
    async (req) => tokens.revoke(req.params.name, req.actor),
  );
}
