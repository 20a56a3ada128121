import type { PartialWorkload } from '../core/index.js';

/**
 * Who may do what. Every route names one permission in its definition (`config: { permission }`); the access
 * hook (access-control.ts) checks the caller's role against the route Fastify matched, never against the URL.
 */

/** The roles a token can have. `proxy` is the data plane's own credential: route tables in, telemetry out. */
export const ROLES = ['viewer', 'operator', 'admin', 'proxy'] as const;
export type Role = (typeof ROLES)[number];

/** The roles a person's token can be created with (`canary token create --role`); `proxy` too, for remote proxies. */
export const TOKEN_ROLES = ROLES;

/**
 * What a route needs:
 * - `public`: anyone, no token (health, metrics, the console's files);
 * - `whoami`: any person's token (not the proxy's);
 * - `read`: the API's reads (everything but tokens);
 * - `routeTable:read`: the compiled route table and its watch stream (what proxies follow);
 * - `telemetry:write`: a proxy's telemetry batches;
 * - `releases:write`: create, change, take over, roll back, resume and finish releases;
 * - `routes:write`: replace a service's route rules;
 * - `demo:write`: the demo's traffic switch;
 * - `services:write`: register and delete services and versions (their workloads run on this host);
 * - `tokens:admin`: list, create and revoke tokens.
 */
export const PERMISSIONS = [
  'public',
  'whoami',
  'read',
  'routeTable:read',
  'telemetry:write',
  'releases:write',
  'routes:write',
  'demo:write',
  'services:write',
  'tokens:admin',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const viewer: Permission[] = ['whoami', 'read', 'routeTable:read'];
const operator: Permission[] = [...viewer, 'releases:write', 'routes:write', 'demo:write'];

/** Each role's permissions (`public` needs none). */
export const rolePermissions: Record<Role, ReadonlySet<Permission>> = {
  viewer: new Set(viewer),
  operator: new Set(operator),
  admin: new Set(PERMISSIONS),
  proxy: new Set<Permission>(['routeTable:read', 'telemetry:write']),
};

export function permits(role: Role, permission: Permission): boolean {
  return permission === 'public' || rolePermissions[role].has(permission);
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Fields of a candidate's workload that only `admin` may give: they decide what runs on the host, or where traffic goes. */
const ADMIN_WORKLOAD_FIELDS = new Set(['kind', 'command', 'args', 'env', 'cwd', 'replicas', 'readiness', 'addresses', 'health']);

/**
 * Why `role` may not create a release with this candidate workload, or undefined when it may. Anyone with
 * `releases:write` may release a version that exists, or a copy of the baseline whose only change is a container
 * image; a command, its args, env (`NODE_OPTIONS=--require ...`), working directory or addresses is an admin's call.
 */
export function candidateWorkloadProblem(role: Role, workload: PartialWorkload | undefined): string | undefined {
  if (role === 'admin' || workload === undefined) return undefined;
  const fields = Object.entries(workload)
    .filter(([k, v]) => v !== undefined && ADMIN_WORKLOAD_FIELDS.has(k))
    .map(([k]) => `candidate.workload.${k}`);
  if (fields.length === 0) return undefined;
  return (
    `role ${role} may not set ${fields.join(', ')}: only an admin may decide what a workload runs ` +
    '(its command, args, env, working directory or addresses); release an existing version, or change only the image'
  );
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the caller's role must allow to reach this route; a route without one is refused at registration. */
    permission?: Permission;
  }
}

/**
 * Why `role` may not set these analysis webhooks, or undefined when it may. A webhook makes the control plane send
 * requests to a URL of the writer's choosing from inside the network (server-side request forgery), so only an
 * admin may name one; operators run analyses with checks and steps alone.
 */
export function analysisWebhooksProblem(role: Role, analysis: { webhooks?: unknown[] } | undefined): string | undefined {
  if (role === 'admin' || !analysis?.webhooks || analysis.webhooks.length === 0) return undefined;
  return `role ${role} may not set analysis.webhooks: a webhook makes the control plane call a URL inside your network, so only an admin may name one`;
}
