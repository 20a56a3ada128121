import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { compileRegex, regexLiterals } from './regex.js';

describe('regexLiterals', () => {
  it('reads the literal text a pattern starts with', () => {
    expect(regexLiterals('/api/v[0-9]+/svc-0001/.*')).toEqual({ prefix: '/api/v', complete: false });
    expect(regexLiterals('^/api/.*')).toEqual({ prefix: '/api/', complete: false });
    expect(regexLiterals('/static/app\\.js')).toEqual({ prefix: '/static/app.js', complete: true });
    expect(regexLiterals('^/health$')).toEqual({ prefix: '/health', complete: true });
    expect(regexLiterals('')).toEqual({ prefix: '', complete: true });
  });
  it('leaves out a character a quantifier applies to', () => {
    expect(regexLiterals('/apix*/y').prefix).toBe('/api');
    expect(regexLiterals('/apix?').prefix).toBe('/api');
    expect(regexLiterals('/apix+').prefix).toBe('/api');
    expect(regexLiterals('/apix{0,2}').prefix).toBe('/api');
    expect(regexLiterals('/a\\.*b').prefix).toBe('/a');
  });
  it('knows nothing for alternations, flags, classes and escapes that are not literal', () => {
    expect(regexLiterals('/a|/b').prefix).toBe('');
    expect(regexLiterals('/a/x|/a/y').prefix).toBe('');
    expect(regexLiterals('(?i)/api/.*').prefix).toBe('');
    expect(regexLiterals('[/]api').prefix).toBe('');
    expect(regexLiterals('\\d+/x').prefix).toBe('');
    expect(regexLiterals('.*/x').prefix).toBe('');
    expect(regexLiterals('\\Q/a|b\\E').prefix).toBe('');
    expect(regexLiterals('/[[:alpha:]|]x').prefix).toBe('');
  });
  it('keeps the prefix before a group even when the group alternates', () => {
    expect(regexLiterals('/api/(v1|v2)/.*')).toEqual({ prefix: '/api/', complete: false });
    expect(regexLiterals('/api/[|]x|y')).toEqual({ prefix: '', complete: false });
    expect(regexLiterals('/api/\\|x')).toEqual({ prefix: '/api/|x', complete: true });
    expect(regexLiterals('/a[]|]b').prefix).toBe('/a');
    expect(regexLiterals('/a[^]|]b|c').prefix).toBe('');
  });
  it('stops at anything past ASCII (a quantifier would apply to the whole character)', () => {
    expect(regexLiterals('/caf\u00e9+').prefix).toBe('/caf');
    expect(regexLiterals('/x\u{1F600}*').prefix).toBe('/x');
  });
});

// The reference is RE2 itself (re2js), without the literal precheck.
describe('compileRegex', () => {
  it('matches whole strings only, like RE2 (and Envoy)', () => {
    const re = compileRegex('/api/v[0-9]+/svc-0001/.*');
    expect(re.test('/api/v2/svc-0001/items')).toBe(true);
    expect(re.test('/api/items')).toBe(false);
    expect(re.test('x/api/v2/svc-0001/items')).toBe(false);
    expect(compileRegex('/health').test('/health')).toBe(true);
    expect(compileRegex('/health').test('/healthz')).toBe(false);
    expect(compileRegex('(?i)/API/.*').test('/api/x')).toBe(true);
  });

  it('agrees with RE2 on tricky patterns and inputs', () => {
    const patterns = [
      '/api/v[0-9]+/svc-0001/.*',
      '^/api/.*',
      '^/api/.*$',
      '/a|/b',
      '/a/x|/a/y',
      '/api/(v1|v2)/.*',
      '(?i)/api/.*',
      '/API(?i)/x',
      '/ab*c',
      '/ab+c',
      '/ab?c',
      '/ab{2}c',
      '/a\\.b',
      '/a\\.*b',
      '/a\\|b',
      '/a[|]b|c',
      '/a[]|]b',
      '\\Q/a|b\\E',
      '^$',
      '',
      '$',
      '^',
      '/x$',
      '/x\\$',
      '/caf\u00e9+',
      '.*',
      '/[[:alpha:]]+',
      '/a(?:b|c)d',
      '/a(b)*',
    ];
    const inputs = [
      '',
      '/',
      '/a',
      '/b',
      '/ab',
      '/abc',
      '/abbc',
      '/ac',
      '/a.b',
      '/ab.',
      '/a|b',
      '/a]b',
      'c',
      '/a/x',
      '/a/y',
      '/api/x',
      '/API/x',
      '/API/X',
      '/api/v1/',
      '/api/v3/x',
      '/api/v2/svc-0001/items',
      '/x',
      '/x$',
      '/caf\u00e9\u00e9',
      '/caf',
      '/abd',
      '/acd',
      '/abbb',
      '/a/b|c',
    ];
    for (const p of patterns) {
      const compiled = compileRegex(p);
      const reference = RE2JS.compile(p);
      for (const s of inputs) expect([p, s, compiled.test(s)]).toEqual([p, s, reference.matches(s)]);
    }
  });

  it('agrees with RE2 on random patterns built from literals, escapes, quantifiers, groups and alternations', () => {
    const atoms = ['a', 'b', '/', '-', '\\.', '.', '[ab]', '[^a]', '(a|b)', '(?i)A', '\\|', '|', '^', '$', '*', '+', '?', '{1,2}', 'x'];
    let seed = 7;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const inputs = ['', 'a', 'b', 'ab', 'ba', '/a', '/ab', 'a.b', 'aab', 'a|b', 'A', 'x', 'a/b', 'ab-', '.', 'abx'];
    let checked = 0;
    for (let k = 0; k < 3000; k++) {
      let p = '';
      const len = 1 + rand(6);
      for (let j = 0; j < len; j++) p += atoms[rand(atoms.length)];
      let compiled: ReturnType<typeof compileRegex>;
      try {
        compiled = compileRegex(p);
      } catch {
        continue; // not valid RE2 (a dangling quantifier, say)
      }
      checked++;
      const reference = RE2JS.compile(p);
      for (const s of inputs) if (compiled.test(s) !== reference.matches(s)) expect({ pattern: p, input: s }).toBe('equivalent');
    }
    expect(checked).toBeGreaterThan(1000);
  });
});
