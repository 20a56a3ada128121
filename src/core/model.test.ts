import { describe, expect, it } from 'vitest';
import { InputError } from './errors.js';
import { ReleaseSpec, Rule, ServiceSpec, StringMatch, Traffic } from './model.js';
import { parseOrThrow } from './validation.js';

function problems(schema: Parameters<typeof parseOrThrow>[0], input: unknown): string {
  try {
    parseOrThrow(schema, input);
  } catch (err) {
    if (err instanceof InputError) return err.message;
    throw err;
  }
  throw new Error('expected the input to be refused');
}

describe('model schemas', () => {
  it('accepts the DESIGN.md service shape and fills defaults', () => {
    const svc = parseOrThrow(ServiceSpec, {
      name: 'reviews',
      versions: [{ name: 'v1', workload: { kind: 'endpoints', addresses: ['127.0.0.1:9001'] } }],
    });
    expect(svc.port).toBe(9080);
    expect(svc.routes).toEqual([]);
    expect(svc.versions[0]!.labels).toEqual({});
  });

  it('refuses names that are not DNS-1123 labels, naming the field', () => {
    const msg = problems(ServiceSpec, {
      name: 'Reviews_1',
      versions: [{ name: 'v1', workload: { kind: 'endpoints', addresses: ['a:1'] } }],
    });
    expect(msg).toMatch(/^name: "Reviews_1" must be a DNS-1123 label/);
  });

  it('refuses weights that do not sum to 100 and says the sum', () => {
    expect(problems(Traffic, { weights: { v1: 60, v2: 50 } })).toBe('weights: must sum to 100, got 110');
    expect(problems(Rule, { route: [{ version: 'v1', weight: 30 }] })).toBe('route: weights must sum to 100, got 30');
  });

  it('refuses non-integer and out-of-range weights', () => {
    expect(problems(Traffic, { weights: { v1: 50.5, v2: 49.5 } })).toMatch(/weights\.v1: .*int/i);
    expect(problems(Rule, { route: [{ version: 'v1', weight: 101 }] })).toMatch(/route\.0\.weight/);
  });

  it('refuses regexes outside RE2 (lookarounds, backreferences)', () => {
    expect(problems(StringMatch, { regex: '(?=admin).*' })).toMatch(/^regex: not a valid RE2 regex/);
    expect(problems(StringMatch, { regex: '(a)\\1' })).toMatch(/lookarounds and backreferences/);
    expect(parseOrThrow(StringMatch, { regex: '^(.*?;\\s*)?(user=jason)(;.*)?$' }).regex).toBeDefined();
  });

  it('wants exactly one of exact, prefix, regex', () => {
    expect(problems(StringMatch, {})).toMatch(/exactly one of exact, prefix or regex, got none/);
    expect(problems(StringMatch, { exact: 'a', prefix: 'b' })).toMatch(/got exact and prefix/);
  });

  it('refuses a traffic that mixes rules with weights', () => {
    expect(problems(Traffic, { rules: [{ route: [{ version: 'v1', weight: 100 }] }], weights: { v1: 100 } })).toMatch(
      /either "rules" alone/,
    );
    expect(problems(Traffic, {})).toMatch(/must give "weights", "match" or "rules"/);
  });

  it('accepts the three release traffic forms', () => {
    const base = { name: 'reviews-canary', service: 'reviews', candidate: { name: 'v2' } };
    for (const traffic of [
      { weights: { v1: 50, v2: 50 } },
      { match: [{ headers: { 'end-user': { exact: 'jason' } } }], weights: { v1: 100 } },
      { rules: [{ route: [{ version: 'v2', weight: 100 }] }] },
    ]) {
      expect(parseOrThrow(ReleaseSpec, { ...base, traffic }).strategy).toBe('canary');
    }
  });

  it('lower-cases header names in match blocks and sticky headers (names are case-insensitive)', () => {
    const rule = parseOrThrow(Rule, {
      match: [{ headers: { 'End-User': { exact: 'Jason' } } }],
      route: [{ version: 'v1', weight: 100 }],
      sticky: { header: 'X-User' },
    });
    expect(rule.match?.[0]?.headers).toEqual({ 'end-user': { exact: 'Jason' } });
    expect(rule.sticky).toEqual({ header: 'x-user' });
  });

  it('refuses unknown fields instead of ignoring them', () => {
    expect(problems(Rule, { route: [{ version: 'v1', weight: 100 }], weigth: 3 })).toMatch(/weigth/);
  });
});
