import { existsSync, readFileSync } from 'node:fs';
import { DestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1beta1/DestinationRule';
import { VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { InputError, type Rule } from '../core/index.js';
import { ROUTING_CASES, ROUTING_SERVICE, ROUTING_VERSIONS } from '../../test/support/routing-cases.js';
import { cookieHeaderRegex } from './cookie-regex.js';
import {
  type IstioServiceInput,
  type IstioStringMatch,
  type IstioVirtualService,
  renderIstio,
  renderIstioObjects,
  STICKY_ANNOTATION,
} from './istio.js';

const endpoints = (port: number) => ({ kind: 'endpoints' as const, addresses: [`127.0.0.1:${port}`] });
const reviews: IstioServiceInput = {
  name: 'reviews',
  port: 9080,
  versions: [
    { name: 'v1', labels: {}, workload: endpoints(9001) },
    { name: 'v2', labels: { track: 'canary' }, workload: endpoints(9002) },
    { name: 'v3', labels: {}, workload: endpoints(9003) },
  ],
};
const fiftyFifty: Rule[] = [
  {
    route: [
      { version: 'v1', weight: 50 },
      { version: 'v2', weight: 50 },
    ],
  },
];

const validate = (yamlText: string) => {
  const docs = parseAllDocuments(yamlText).map((d) => d.toJS());
  expect(docs.map((d) => d.kind)).toEqual(['VirtualService', 'DestinationRule']);
  new VirtualService(docs[0]).validate();
  new DestinationRule(docs[1]).validate();
  return docs as [IstioVirtualService, unknown];
};

describe('renderIstio: the seed article', () => {
  it('renders reviews v1/v2 at 50/50 on port 9080 exactly as `kubectl get virtualservice -o yaml` shows it', () => {
    const { virtualService } = renderIstioObjects(reviews, fiftyFifty);
    expect(virtualService.spec).toStrictEqual({
      hosts: ['reviews'],
      http: [
        {
          route: [
            { destination: { host: 'reviews', port: { number: 9080 }, subset: 'v1' }, weight: 50 },
            { destination: { host: 'reviews', port: { number: 9080 }, subset: 'v2' }, weight: 50 },
          ],
        },
      ],
    });
    expect(virtualService.metadata.name).toBe('reviews');
    expect(virtualService.apiVersion).toBe('networking.istio.io/v1beta1');
  });

  it('prints the spec with the very text of the article (kubectl layout)', () => {
    // The article's "expected output" of `kubectl -n demo-project get virtualservice -o yaml`, between its "...".
    const article = [
      'spec:',
      '  hosts:',
      '  - reviews',
      '  http:',
      '  - route:',
      '    - destination:',
      '        host: reviews',
      '        port:',
      '          number: 9080',
      '        subset: v1',
      '      weight: 50',
      '    - destination:',
      '        host: reviews',
      '        port:',
      '          number: 9080',
      '        subset: v2',
      '      weight: 50',
    ].join('\n');
    const seedFile = new URL('../../../shared/seeds/000_33422fb706144c12.txt', import.meta.url);
    if (existsSync(seedFile)) expect(readFileSync(seedFile, 'utf8')).toContain(article);
    expect(renderIstio(reviews, fiftyFifty)).toContain(`${article}\n---\n`);
  });

  it('renders a DestinationRule with one subset per version, selected by the version label', () => {
    const [, dr] = validate(renderIstio(reviews, fiftyFifty, { namespace: 'demo-project' }));
    expect(dr).toMatchObject({
      metadata: { name: 'reviews', namespace: 'demo-project' },
      spec: {
        host: 'reviews',
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v2', labels: { version: 'v2', track: 'canary' } },
          { name: 'v3', labels: { version: 'v3' } },
        ],
      },
    });
  });
});

describe('renderIstio: every construct validates against the Istio CRD schemas', () => {
  const everything: Rule[] = [
    {
      match: [
        {
          uri: { prefix: '/api' },
          headers: { 'End-User': { exact: 'jason' }, 'x-tier': { regex: 'gold|platinum' } },
          cookie: { user: { exact: 'jason' }, group: { prefix: 'beta' } },
          queryParams: { q: { regex: 'a.*' }, lang: { prefix: 'en' }, beta: { exact: 'on' } },
          method: { exact: 'GET' },
        },
        { headers: { cookie: { regex: '^(.*?;\\s*)?(x=1)(;.*)?$' } } },
      ],
      route: [{ version: 'v2', weight: 100 }],
      mirror: { version: 'v3', percent: 25 },
    },
    { match: [{ method: { regex: 'POST|PUT' } }], route: [{ version: 'v1', weight: 100 }], sticky: { header: 'x-user' } },
    {
      route: [
        { version: 'v1', weight: 90 },
        { version: 'v2', weight: 10 },
      ],
      sticky: { cookie: 'canary-session' },
    },
  ];

  it('validates a VirtualService using uri, headers, cookies, queryParams, method, mirror and sticky', () => {
    const [vs] = validate(renderIstio(reviews, everything, { namespace: 'shop' }));
    const first = vs.spec.http[0]!;
    expect(first.match?.[0]?.headers).toEqual({
      'end-user': { exact: 'jason' },
      'x-tier': { regex: 'gold|platinum' },
      cookie: { regex: cookieHeaderRegex({ user: { exact: 'jason' }, group: { prefix: 'beta' } }) },
    });
    expect(first.match?.[0]?.queryParams).toEqual({ q: { regex: 'a.*' }, lang: { regex: 'en.*' }, beta: { exact: 'on' } });
    expect(first.match?.[1]).toEqual({ headers: { cookie: { regex: '^(.*?;\\s*)?(x=1)(;.*)?$' } } });
    expect(first.mirror).toEqual({ host: 'reviews', port: { number: 9080 }, subset: 'v3' });
    expect(first.mirrorPercentage).toEqual({ value: 25 });
  });

  it('renders nothing for sticky rules and says why in the canary-mesh.io/sticky annotation', () => {
    const [vs, dr] = validate(renderIstio(reviews, everything));
    const note = vs.metadata.annotations?.[STICKY_ANNOTATION] ?? '';
    expect(note).toContain('http[1] is sticky by header "x-user"');
    expect(note).toContain('http[2] is sticky by cookie "canary-session"');
    expect(note).toContain('never across subsets');
    expect(JSON.stringify(vs.spec)).not.toMatch(/hash/i);
    // The trafficPolicy carries outlier detection only: no load balancer, no consistent hash.
    expect(JSON.stringify(dr)).not.toMatch(/loadBalancer|hash/i);
    expect(vs.spec.http[2]).toEqual({
      route: [
        { destination: { host: 'reviews', port: { number: 9080 }, subset: 'v1' }, weight: 90 },
        { destination: { host: 'reviews', port: { number: 9080 }, subset: 'v2' }, weight: 10 },
      ],
    });
    expect(renderIstioObjects(reviews, fiftyFifty).virtualService.metadata.annotations).toBeUndefined();
  });

  it.each(ROUTING_CASES.map((c) => [c.name, c] as const))('validates the rendering of routing case "%s"', (_name, c) => {
    validate(renderIstio(routingService, c.rules));
  });

  it('routes an empty rule list to the stable (first) version', () => {
    expect(renderIstioObjects(reviews, []).virtualService.spec.http).toEqual([
      { route: [{ destination: { host: 'reviews', port: { number: 9080 }, subset: 'v1' }, weight: 100 }] },
    ]);
  });
});

describe('renderIstio: what Istio cannot express is refused with the field named', () => {
  const problem = (rules: Rule[]) => {
    try {
      renderIstioObjects(reviews, rules);
    } catch (err) {
      expect(err).toBeInstanceOf(InputError);
      return (err as InputError).message;
    }
    throw new Error('expected an InputError');
  };

  it('refuses a version the service does not have', () => {
    expect(problem([{ route: [{ version: 'v9', weight: 100 }] }])).toBe(
      'rules.0.route.0.version: version "v9" does not exist in service "reviews" (it has v1, v2, v3)',
    );
  });

  it('refuses a raw cookie header condition beside cookie conditions in one block', () => {
    expect(
      problem([
        {
          match: [{ headers: { Cookie: { exact: 'a=1' } }, cookie: { user: { exact: 'jason' } } }],
          route: [{ version: 'v2', weight: 100 }],
        },
      ]),
    ).toMatch(/^rules\.0\.match\.0\.cookie: cannot be combined with headers\.Cookie/);
  });

  it('refuses two conditions on the same header spelled in different cases', () => {
    expect(
      problem([{ match: [{ headers: { 'X-A': { exact: '1' }, 'x-a': { exact: '2' } } }], route: [{ version: 'v2', weight: 100 }] }]),
    ).toMatch(/^rules\.0\.match\.0\.headers: "X-A" and "x-a" name the same header/);
  });
});

describe('cookie conditions become a regex on the cookie header that tolerates spaces', () => {
  const matches = (regex: string, header: string) => RE2JS.compile(regex).matches(header);

  it('renders an exact cookie as ^(.*?;\\s*)?(user=jason)(;.*)?$', () => {
    const regex = cookieHeaderRegex({ user: { exact: 'jason' } });
    expect(regex).toBe('^(.*?;\\s*)?(user=jason)(;.*)?$');
    for (const header of ['user=jason', 'a=1; user=jason', 'a=1;user=jason; b=2', 'a=1; user=jason; b=2']) {
      expect(matches(regex, header), header).toBe(true);
    }
    for (const header of ['user=jasonx', 'xuser=jason', 'a=1; user=jasonx; b=2', 'a=1', '']) {
      expect(matches(regex, header), header).toBe(false);
    }
  });

  it('escapes regex metacharacters in names and values', () => {
    const regex = cookieHeaderRegex({ 'a.b': { exact: 'x+y' } });
    expect(matches(regex, 'c=1; a.b=x+y')).toBe(true);
    expect(matches(regex, 'axb=x+y')).toBe(false);
    expect(matches(regex, 'a.b=xxy')).toBe(false);
  });

  it('renders a prefix as the value followed by anything but ;', () => {
    const regex = cookieHeaderRegex({ group: { prefix: 'beta' } });
    expect(regex).toBe('^(.*?;\\s*)?(group=beta[^;]*)(;.*)?$');
    expect(matches(regex, 'a=1; group=beta-2; b=2')).toBe(true);
    expect(matches(regex, 'group=beta')).toBe(true);
    expect(matches(regex, 'group=alpha; x=beta')).toBe(false);
  });

  it("puts the user's regex inside the group", () => {
    const regex = cookieHeaderRegex({ user: { regex: 'jason|bob' } });
    expect(regex).toBe('^(.*?;\\s*)?(user=(?:jason|bob))(;.*)?$');
    expect(matches(regex, 'a=1; user=bob')).toBe(true);
    expect(matches(regex, 'user=jason; b=2')).toBe(true);
    expect(matches(regex, 'user=alice; b=bob')).toBe(false);
  });

  it('matches several cookies in any order', () => {
    const regex = cookieHeaderRegex({ user: { exact: 'jason' }, group: { exact: 'beta' } });
    for (const header of [
      'user=jason; group=beta',
      'group=beta; user=jason',
      'a=1; group=beta; c=3; user=jason; d=4',
      'user=jason;group=beta',
    ]) {
      expect(matches(regex, header), header).toBe(true);
    }
    for (const header of ['user=jason', 'group=beta; user=jasonx', 'xgroup=beta; user=jason']) {
      expect(matches(regex, header), header).toBe(false);
    }
  });
});

/**
 * The shared route-semantics suite, run against the rendered VirtualService as Envoy evaluates it: http routes
 * in order, match blocks OR, conditions AND, uri on the path without the query, header names lower-case,
 * regexes RE2 over the whole value. Every case routes each request where the mesh proxy does.
 */
const routingService: IstioServiceInput = {
  name: ROUTING_SERVICE,
  port: 9080,
  versions: ROUTING_VERSIONS.map((name, i) => ({ name, labels: {}, workload: endpoints(9001 + i) })),
};

function istioMatches(m: IstioStringMatch, value: string | undefined): boolean {
  if (value === undefined) return false;
  if ('exact' in m) return value === m.exact;
  if ('prefix' in m) return value.startsWith(m.prefix);
  return RE2JS.compile(m.regex).matches(value);
}

function routeLikeEnvoy(vs: IstioVirtualService, req: { method?: string; url: string; headers?: Record<string, string> }): string | null {
  const url = new URL(req.url, 'http://reviews');
  const headers = new Map(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const method = req.method ?? 'GET';
  for (const http of vs.spec.http) {
    const applies =
      !http.match ||
      http.match.some(
        (m) =>
          (!m.uri || istioMatches(m.uri, url.pathname)) &&
          (!m.method || istioMatches(m.method, method)) &&
          Object.entries(m.headers ?? {}).every(([name, sm]) => istioMatches(sm, headers.get(name))) &&
          Object.entries(m.queryParams ?? {}).every(([name, sm]) => istioMatches(sm, url.searchParams.get(name) ?? undefined)),
      );
    if (applies) return http.route.find((d) => d.weight === 100)?.destination.subset ?? null;
  }
  return null;
}

describe('the route-semantics suite holds for the rendered VirtualService', () => {
  it.each(ROUTING_CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { virtualService } = renderIstioObjects(routingService, c.rules);
    for (const r of c.requests) {
      expect(routeLikeEnvoy(virtualService, r), `${r.method ?? 'GET'} ${r.url} ${JSON.stringify(r.headers ?? {})}`).toBe(r.expect);
    }
  });
});

describe('renderIstio: outlier detection', () => {
  it('renders the proxy defaults into the DestinationRule trafficPolicy, valid against the CRD', () => {
    const [, dr] = validate(renderIstio(reviews, fiftyFifty));
    expect((dr as { spec: { trafficPolicy: unknown } }).spec.trafficPolicy).toStrictEqual({
      outlierDetection: {
        consecutive5xxErrors: 0,
        consecutiveGatewayErrors: 5,
        interval: '10s',
        baseEjectionTime: '30s',
        maxEjectionPercent: 50,
      },
    });
  });

  it("renders a service's own settings with Istio's field names and durations", () => {
    const service: IstioServiceInput = {
      ...reviews,
      outlierDetection: { consecutive5xxErrors: 3, interval: '1500ms', baseEjectionTime: '2m', maxEjectionPercent: 100 },
    };
    const text = renderIstio(service, fiftyFifty);
    const [, dr] = validate(text);
    expect((dr as { spec: { trafficPolicy: unknown } }).spec.trafficPolicy).toStrictEqual({
      outlierDetection: {
        consecutive5xxErrors: 3,
        consecutiveGatewayErrors: 5,
        interval: '1.500s',
        baseEjectionTime: '120s',
        maxEjectionPercent: 100,
      },
    });
    expect(text).toContain('  trafficPolicy:\n    outlierDetection:\n      consecutive5xxErrors: 3\n');
  });

  it('renders no trafficPolicy when detection is off', () => {
    const off: IstioServiceInput = { ...reviews, outlierDetection: { consecutive5xxErrors: 0, consecutiveGatewayErrors: 0 } };
    const { destinationRule } = renderIstioObjects(off, fiftyFifty);
    expect(destinationRule.spec.trafficPolicy).toBeUndefined();
  });
});
