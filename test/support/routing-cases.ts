import type { Rule } from '../../src/core/index.js';

/** One request of a routing case and the version that must serve it (null: no rule matches, a 404). */
export interface RoutingRequest {
  method?: string;
  /** Path with optional query string. */
  url: string;
  headers?: Record<string, string>;
  expect: string | null;
}

/**
 * A route-semantics case (DESIGN.md "Routing semantics"): the rules of service `reviews` (versions v1, v2, v3)
 * and requests with the version each must reach. Shared by every implementation of the semantics: the mesh
 * proxy's suite sends them through real sockets; the Istio renderer's suite can check its output against them.
 */
export interface RoutingCase {
  name: string;
  rules: Rule[];
  requests: RoutingRequest[];
}

export const ROUTING_SERVICE = 'reviews';
export const ROUTING_VERSIONS = ['v1', 'v2', 'v3'] as const;

const toV1: Rule = { route: [{ version: 'v1', weight: 100 }] };
const toV2 = (match: Rule['match']): Rule => ({ match, route: [{ version: 'v2', weight: 100 }] });

export const ROUTING_CASES: RoutingCase[] = [
  {
    name: 'uri exact matches the whole path, not the query string',
    rules: [toV2([{ uri: { exact: '/api' } }]), toV1],
    requests: [
      { url: '/api', expect: 'v2' },
      { url: '/api?x=1', expect: 'v2' },
      { url: '/api/x', expect: 'v1' },
      { url: '/apix', expect: 'v1' },
    ],
  },
  {
    name: 'uri prefix',
    rules: [toV2([{ uri: { prefix: '/api' } }]), toV1],
    requests: [
      { url: '/api/reviews/1', expect: 'v2' },
      { url: '/api', expect: 'v2' },
      { url: '/ap', expect: 'v1' },
      { url: '/x/api', expect: 'v1' },
    ],
  },
  {
    name: 'uri regex is RE2 over the whole path',
    rules: [toV2([{ uri: { regex: '/reviews/[0-9]+' } }]), toV1],
    requests: [
      { url: '/reviews/42', expect: 'v2' },
      { url: '/reviews/42?full=1', expect: 'v2' },
      { url: '/reviews/42/x', expect: 'v1' },
      { url: '/reviews/abc', expect: 'v1' },
    ],
  },
  {
    name: 'header names are case-insensitive, values are not',
    rules: [toV2([{ headers: { 'End-User': { exact: 'jason' } } }]), toV1],
    requests: [
      { url: '/', headers: { 'end-user': 'jason' }, expect: 'v2' },
      { url: '/', headers: { 'END-USER': 'jason' }, expect: 'v2' },
      { url: '/', headers: { 'end-user': 'Jason' }, expect: 'v1' },
      { url: '/', headers: { 'end-user': 'jasonx' }, expect: 'v1' },
      { url: '/', expect: 'v1' },
    ],
  },
  {
    name: 'header prefix and regex',
    rules: [
      toV2([{ headers: { 'x-tier': { prefix: 'gold' } } }]),
      { match: [{ headers: { 'user-agent': { regex: '.*(iPhone|Android).*' } } }], route: [{ version: 'v3', weight: 100 }] },
      toV1,
    ],
    requests: [
      { url: '/', headers: { 'x-tier': 'gold-plus' }, expect: 'v2' },
      { url: '/', headers: { 'x-tier': 'silver' }, expect: 'v1' },
      { url: '/', headers: { 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)' }, expect: 'v3' },
      { url: '/', headers: { 'user-agent': 'curl/8.5.0' }, expect: 'v1' },
    ],
  },
  {
    name: 'query parameters: exact and regex',
    rules: [
      toV2([{ queryParams: { beta: { exact: 'on' } } }]),
      { match: [{ queryParams: { q: { regex: 'star.*' } } }], route: [{ version: 'v3', weight: 100 }] },
      toV1,
    ],
    requests: [
      { url: '/?beta=on', expect: 'v2' },
      { url: '/?x=1&beta=on&y=2', expect: 'v2' },
      { url: '/?beta=onx', expect: 'v1' },
      { url: '/?xbeta=on', expect: 'v1' },
      { url: '/?q=stars', expect: 'v3' },
      { url: '/?q=nostars', expect: 'v1' },
      { url: '/', expect: 'v1' },
    ],
  },
  {
    name: 'method',
    rules: [toV2([{ method: { exact: 'POST' } }]), toV1],
    requests: [
      { method: 'POST', url: '/', expect: 'v2' },
      { method: 'GET', url: '/', expect: 'v1' },
      { method: 'DELETE', url: '/', expect: 'v1' },
    ],
  },
  {
    name: 'first matching rule wins',
    rules: [
      { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ version: 'v3', weight: 100 }] },
      toV2([{ uri: { prefix: '/api' } }]),
      toV1,
    ],
    requests: [
      { url: '/api/x', headers: { 'end-user': 'jason' }, expect: 'v3' },
      { url: '/api/x', expect: 'v2' },
      { url: '/', headers: { 'end-user': 'jason' }, expect: 'v3' },
      { url: '/', expect: 'v1' },
    ],
  },
  {
    name: 'blocks are OR, conditions inside a block are AND',
    rules: [toV2([{ uri: { prefix: '/a' }, headers: { 'x-canary': { exact: '1' } } }, { queryParams: { canary: { exact: '1' } } }]), toV1],
    requests: [
      { url: '/a/b', headers: { 'x-canary': '1' }, expect: 'v2' },
      { url: '/a/b', expect: 'v1' },
      { url: '/b', headers: { 'x-canary': '1' }, expect: 'v1' },
      { url: '/b?canary=1', expect: 'v2' },
      { url: '/b', expect: 'v1' },
    ],
  },
  {
    name: 'cookie condition reads one cookie of several (RFC 6265)',
    rules: [toV2([{ cookie: { user: { exact: 'jason' } } }]), toV1],
    requests: [
      { url: '/', headers: { cookie: 'a=1; user=jason; b=2' }, expect: 'v2' },
      { url: '/', headers: { cookie: 'user=jason' }, expect: 'v2' },
      { url: '/', headers: { cookie: 'a=1; user=jason' }, expect: 'v2' },
      { url: '/', headers: { cookie: 'a=1;user=jason' }, expect: 'v2' },
      { url: '/', headers: { cookie: 'a=1; user=jasonx; b=2' }, expect: 'v1' },
      { url: '/', headers: { cookie: 'xuser=jason' }, expect: 'v1' },
      { url: '/', headers: { cookie: 'a=1' }, expect: 'v1' },
      { url: '/', expect: 'v1' },
    ],
  },
  {
    name: 'a raw cookie header condition keeps plain Istio semantics',
    rules: [toV2([{ headers: { cookie: { regex: '^(.*?;\\s*)?(user=jason)(;.*)?$' } } }]), toV1],
    requests: [
      { url: '/', headers: { cookie: 'a=1; user=jason; b=2' }, expect: 'v2' },
      { url: '/', headers: { cookie: 'user=jason' }, expect: 'v2' },
      { url: '/', headers: { cookie: 'user=jasonx' }, expect: 'v1' },
    ],
  },
  {
    name: 'no matching rule is a 404',
    rules: [toV2([{ uri: { prefix: '/api' } }])],
    requests: [
      { url: '/api', expect: 'v2' },
      { url: '/other', expect: null },
    ],
  },
  {
    name: 'a rule without match takes every request',
    rules: [{ route: [{ version: 'v3', weight: 100 }] }, toV2([{ uri: { prefix: '/' } }])],
    requests: [
      { url: '/', expect: 'v3' },
      { method: 'POST', url: '/anything?x=1', headers: { 'end-user': 'jason' }, expect: 'v3' },
    ],
  },
];
