import { parseDocument } from 'yaml';
import { z } from 'zod';
import {
  compileRouteTable,
  InputError,
  Name,
  parseOrThrow,
  ServiceSpec,
  type ErrorDetail,
  type RouteTable,
  type Service,
} from '../core/index.js';
import { checkProxyLimits, PROXY_LIMIT_KEYS, type ProxyLimits } from '../data-plane/proxy-settings.js';

/**
 * The static route file of `canary proxy --config FILE`: services in the API's shapes (versions must be of kind
 * `endpoints`, each with its `routes`), plus optional outbound listeners for callers that should be known.
 */
export const StaticRouteFile = z.strictObject({
  services: z.array(ServiceSpec).min(1, 'must list at least one service'),
  listeners: z
    .array(z.strictObject({ port: z.int().min(1).max(65535), service: Name, version: Name, instance: z.string().min(1) }))
    .default([]),
  /** The proxy's limits and timeouts (ProxyLimits keys); flags of `canary proxy` win over these. */
  proxy: z.record(z.string(), z.unknown()).optional(),
});
export type StaticRouteFile = z.infer<typeof StaticRouteFile>;

const STATIC_META = { resourceVersion: '0', createdAt: new Date(0).toISOString(), updatedAt: new Date(0).toISOString(), createdBy: 'file' };

/** Checks across fields that the schema cannot see: endpoints only, rules naming known versions. */
function crossCheck(file: StaticRouteFile): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const versionsOf = new Map<string, Set<string>>();
  const names = new Set<string>();
  file.services.forEach((svc, s) => {
    if (names.has(svc.name)) problems.push({ path: `services.${s}.name`, message: `service "${svc.name}" is listed twice` });
    names.add(svc.name);
    const versions = new Set(svc.versions.map((v) => v.name));
    versionsOf.set(svc.name, versions);
    svc.versions.forEach((v, i) => {
      if (v.workload.kind !== 'endpoints') {
        problems.push({
          path: `services.${s}.versions.${i}.workload.kind`,
          message: `the static file serves running endpoints only: write kind: endpoints with addresses: ["host:port"], got ${v.workload.kind}`,
        });
      }
    });
    svc.routes.forEach((rule, r) => {
      rule.route.forEach((d, i) => {
        if (!versions.has(d.version)) {
          problems.push({
            path: `services.${s}.routes.${r}.route.${i}.version`,
            message: `service ${svc.name} has no version "${d.version}"`,
          });
        }
      });
      if (rule.mirror && !versions.has(rule.mirror.version)) {
        problems.push({
          path: `services.${s}.routes.${r}.mirror.version`,
          message: `service ${svc.name} has no version "${rule.mirror.version}"`,
        });
      }
    });
  });
  if (file.proxy !== undefined) {
    const known = new Set<string>(PROXY_LIMIT_KEYS);
    for (const key of Object.keys(file.proxy)) {
      if (!known.has(key)) {
        problems.push({ path: `proxy.${key}`, message: `is not a proxy limit; the limits are ${PROXY_LIMIT_KEYS.join(', ')}` });
      }
    }
    checkProxyLimits(file.proxy, 'proxy.', problems);
  }
  const ports = new Set<number>();
  file.listeners.forEach((l, i) => {
    if (ports.has(l.port)) problems.push({ path: `listeners.${i}.port`, message: `port ${l.port} is listed twice` });
    ports.add(l.port);
    const versions = versionsOf.get(l.service);
    if (!versions) problems.push({ path: `listeners.${i}.service`, message: `no service "${l.service}" in this file` });
    else if (!versions.has(l.version))
      problems.push({ path: `listeners.${i}.version`, message: `service ${l.service} has no version "${l.version}"` });
  });
  return problems;
}

/**
 * The file's data. A JSON file (generated tables often are) is read with JSON.parse: YAML's document model of a
 * 1 MB file costs tens of MB of heap that V8 then keeps as the process's high-water mark. Anything JSON.parse
 * refuses is read as YAML, whose errors say where the problem is.
 */
function parseText(text: string): unknown {
  const first = text.trimStart().charCodeAt(0);
  if (first === 123 /* { */) {
    try {
      return JSON.parse(text);
    } catch {
      // Not JSON after all: YAML says why.
    }
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new InputError(`not valid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
  }
  return doc.toJS();
}

/** Parses and validates a static route file and compiles it into a route table. Throws InputError naming the field. */
export function parseStaticRouteFile(text: string, revision = 1): RouteTable {
  return readStaticRouteFile(text, revision).table;
}

/** A static route file's route table and the limits its `proxy:` block sets (only those it names). */
export interface StaticRouteFileContent {
  table: RouteTable;
  proxy: Partial<ProxyLimits>;
}

/** parseStaticRouteFile, with the file's `proxy:` block. */
export function readStaticRouteFile(text: string, revision = 1): StaticRouteFileContent {
  const file = parseOrThrow(StaticRouteFile, parseText(text));
  const problems = crossCheck(file);
  if (problems.length > 0) throw InputError.fromDetails(problems);
  const proxy: Partial<ProxyLimits> = {};
  for (const key of PROXY_LIMIT_KEYS) {
    const v = file.proxy?.[key];
    if (typeof v === 'number') proxy[key] = v;
  }
  return { table: compileTable(file, revision), proxy };
}

function compileTable(file: StaticRouteFile, revision: number): RouteTable {
  const services: Service[] = file.services.map((svc) => ({ ...svc, ...STATIC_META }));
  const addresses = new Map<string, string[]>();
  for (const svc of file.services) {
    for (const v of svc.versions) if (v.workload.kind === 'endpoints') addresses.set(`${svc.name}/${v.name}`, v.workload.addresses);
  }
  return compileRouteTable({
    revision,
    services,
    releases: [],
    endpoints: (service, version) =>
      (addresses.get(`${service}/${version}`) ?? []).map((address) => ({ address, instance: address, ready: true })),
    listeners: file.listeners,
  });
}
