import { z } from 'zod';
import { Name, PartialWorkload, ReleasePhase, Rule, Traffic, Version } from '../core/index.js';

/** Response and parameter schemas of API v1, built from the core's model so the OpenAPI document matches it. */

export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })),
    }),
  })
  .meta({ description: 'Every error: a code, a message that names the field, and one detail per problem.' });

const metaFields = {
  resourceVersion: z.string().meta({ description: 'The store revision of the last write; send it as If-Match.' }),
  createdAt: z.string(),
  updatedAt: z.string(),
  createdBy: z.string(),
};

export const InstanceStatusSchema = z.object({
  name: z.string(),
  address: z.string(),
  pid: z.number().nullable(),
  ready: z.boolean(),
  restarts: z.number(),
  state: z.enum(['starting', 'ready', 'unready', 'backoff', 'stopping', 'exited']),
  startedAt: z.string().nullable(),
  outboundPort: z.number().nullable(),
});

export const VersionHealthSchema = z.object({ ready: z.boolean(), failed: z.boolean(), reason: z.string() });

export const ServiceStatusSchema = z.object({
  release: z.string().nullable(),
  versions: z.array(z.object({ name: z.string(), health: VersionHealthSchema, instances: z.array(InstanceStatusSchema) })),
});

export const ServiceResource = z.object({
  name: z.string(),
  port: z.number(),
  ingress: z.object({ paths: z.array(z.string()) }).optional(),
  versions: z.array(Version),
  routes: z.array(Rule),
  ...metaFields,
  status: ServiceStatusSchema.optional(),
});

export const ConditionSchema = z.object({
  type: z.string(),
  status: z.enum(['True', 'False']),
  reason: z.string(),
  message: z.string(),
  at: z.string(),
});

export const ReleaseResource = z.object({
  name: z.string(),
  service: z.string(),
  strategy: z.literal('canary'),
  baseline: z.string(),
  candidate: z.object({ name: z.string(), workload: PartialWorkload.optional() }),
  traffic: Traffic,
  status: z.object({
    phase: ReleasePhase,
    governor: z.string().nullable(),
    observed: z.record(z.string(), z.number()),
    conditions: z.array(ConditionSchema),
    candidateCreated: z.boolean(),
  }),
  ...metaFields,
});

export const EventResource = z.object({
  id: z.number(),
  at: z.string(),
  revision: z.number(),
  actor: z.string(),
  action: z.string(),
  resourceKind: z.enum(['service', 'release']),
  resourceName: z.string(),
  release: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  message: z.string(),
});

export const EventsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  since: z.string().optional().meta({ description: 'An event id (events after it) or an ISO time (events at or after it).' }),
});

export const RouteTableSchema = z.object({
  revision: z.number(),
  generatedAt: z.string(),
  services: z.array(
    z.object({
      name: z.string(),
      port: z.number(),
      ingressPaths: z.array(z.string()),
      release: z.string().nullable(),
      versions: z.array(
        z.object({ name: z.string(), endpoints: z.array(z.object({ address: z.string(), instance: z.string(), ready: z.boolean() })) }),
      ),
      rules: z.array(Rule),
    }),
  ),
  listeners: z.array(z.object({ port: z.number(), service: z.string(), version: z.string(), instance: z.string() })),
});

export const FinishResultSchema = z.object({
  release: z.string(),
  service: z.string(),
  kept: z.string(),
  retired: z.string(),
});

export const LogLinesSchema = z.object({
  lines: z.array(z.object({ at: z.string(), instance: z.string(), stream: z.enum(['stdout', 'stderr']), line: z.string() })),
});

export const ServiceParams = z.object({ name: Name });
export const VersionParams = z.object({ name: Name, version: Name });
export const ReleaseParams = z.object({ name: Name });

export const errorResponses = { '4xx': ErrorBodySchema, '5xx': ErrorBodySchema };
