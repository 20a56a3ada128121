import { describe, expect, it } from 'vitest';
import {
  type CapturedAnswer,
  compareAnswers,
  compileCompare,
  DEFAULT_COMPARE,
  MAX_BODY_DIFFERENCES,
  MAX_JSON_DEPTH,
  parseJsonPath,
  type CompareSettings,
} from './index.js';

const enc = new TextEncoder();

/** An answer whose body is kept up to `keep` bytes, as the proxy captures it. */
function answer(
  status: number,
  body: string | Uint8Array,
  headers: string[] = ['content-type', 'application/json'],
  keep = 65_536,
): CapturedAnswer {
  const bytes = typeof body === 'string' ? enc.encode(body) : body;
  return { status, headers, body: bytes.subarray(0, keep), bodyBytes: bytes.length };
}

function compare(p: CapturedAnswer, m: CapturedAnswer, settings: Partial<CompareSettings> = {}) {
  return compareAnswers(p, m, compileCompare({ ...DEFAULT_COMPARE, ...settings }));
}

describe('JSON paths of ignoreJsonPaths', () => {
  it('parses the supported forms', () => {
    expect(parseJsonPath('$')).toEqual([]);
    expect(parseJsonPath('$.timestamp')).toEqual(['timestamp']);
    expect(parseJsonPath("$.items[*].id['x y'][2]")).toHaveLength(5);
  });

  it('says what is wrong with an unsupported one', () => {
    expect(parseJsonPath('timestamp')).toMatch(/must start with "\$"/);
    expect(parseJsonPath('$..id')).toMatch(/expected a name after "\."/);
    expect(parseJsonPath('$.items[?(@.id)]')).toMatch(/must be an index, \* or a quoted key/);
    expect(parseJsonPath('$.items[1')).toMatch(/never closed/);
  });
});

describe('compareAnswers', () => {
  it('finds nothing between equal answers, whatever the key order and number spelling', () => {
    const p = answer(200, '{"a":1,"b":{"x":[1,2,{"y":"é"}],"n":1.0},"z":null}');
    const m = answer(200, '{ "z" : null, "b": {"n": 1, "x": [1, 2, {"y": "\\u00e9"}]}, "a": 1e0 }');
    expect(compare(p, m)).toEqual([]);
  });

  it('reports a different status as the one difference', () => {
    expect(compare(answer(200, '{"a":1}'), answer(503, 'unavailable', ['content-type', 'text/plain']))).toEqual([
      { kind: 'status', field: null, primary: '200', mirror: '503' },
    ]);
  });

  it('names each differing field once, indexes generalised, with the first values seen', () => {
    const p = answer(200, JSON.stringify({ reviews: [{ rating: 5 }, { rating: 4 }], title: 'x', gone: true }));
    const m = answer(200, JSON.stringify({ reviews: [{ rating: 1 }, { rating: 2 }], title: 'x', added: 'y' }));
    expect(compare(p, m)).toEqual([
      { kind: 'body', field: '$.added', primary: '(absent)', mirror: '"y"' },
      { kind: 'body', field: '$.gone', primary: 'true', mirror: '(absent)' },
      { kind: 'body', field: '$.reviews[*].rating', primary: '5', mirror: '1' },
    ]);
  });

  it('ignores the ignored paths and what is under them, wildcards included', () => {
    const items = (...pairs: [string, number][]) => pairs.map(([id, v]) => ({ id, v }));
    const p = answer(
      200,
      JSON.stringify({
        timestamp: 1,
        items: items(['a', 1], ['b', 2]),
        meta: { trace: { x: 1 } },
      }),
    );
    const m = answer(
      200,
      JSON.stringify({
        timestamp: 2,
        items: items(['c', 1], ['d', 3]),
        meta: { trace: 'other' },
      }),
    );
    expect(compare(p, m, { ignoreJsonPaths: ['$.timestamp', '$.items[*].id', '$.meta.trace'] })).toEqual([
      { kind: 'body', field: '$.items[*].v', primary: '2', mirror: '3' },
    ]);
    expect(compare(p, m, { ignoreJsonPaths: ['$.timestamp', '$.items', '$.meta'] })).toEqual([]);
  });

  it('reports a type change and an array length as one difference each', () => {
    const p = answer(200, '{"a":"1","list":[1,2,3]}');
    const m = answer(200, '{"a":1,"list":[1,2]}');
    expect(compare(p, m)).toEqual([
      { kind: 'body', field: '$.a', primary: '"1"', mirror: '1' },
      { kind: 'body', field: '$.list', primary: 'array (3 items)', mirror: 'array (2 items)' },
    ]);
  });

  it('counts at most a few fields of one body, then says there were more', () => {
    const many = (v: number) => JSON.stringify(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, v])));
    const d = compare(answer(200, many(1)), answer(200, many(2)));
    expect(d).toHaveLength(MAX_BODY_DIFFERENCES + 1);
    expect(d.at(-1)).toMatchObject({ field: '(more fields)' });
  });

  it('compares malformed JSON as text, and a JSON side against a non-JSON side as one difference at $', () => {
    expect(compare(answer(200, '{"a":'), answer(200, '{"a":'))).toEqual([]);
    const d = compare(answer(200, '{"a":'), answer(200, '{"a":2'));
    expect(d).toEqual([{ kind: 'body', field: null, primary: '{\\"a\\": (5 bytes)', mirror: '{\\"a\\":2 (6 bytes)' }]);
    expect(compare(answer(200, '{"a":1}'), answer(200, '<html>'))).toEqual([
      { kind: 'body', field: '$', primary: 'object (1 key)', mirror: '(not JSON)' },
    ]);
  });

  it('compares text bodies by bytes, showing where they first differ', () => {
    const t = ['content-type', 'text/plain'];
    expect(compare(answer(200, 'hello world', t), answer(200, 'hello world', t))).toEqual([]);
    expect(compare(answer(200, 'hello world', t), answer(200, 'hello there', t))).toEqual([
      { kind: 'body', field: null, primary: 'hello world (11 bytes)', mirror: 'hello there (11 bytes)' },
    ]);
    const long = (end: string) => `${'x'.repeat(100)}${end}`;
    expect(compare(answer(200, long('abc'), t), answer(200, long('abd'), t))).toEqual([
      { kind: 'body', field: null, primary: '…xxxxxxxxabc (103 bytes)', mirror: '…xxxxxxxxabd (103 bytes)' },
    ]);
  });

  it('compares bodies over the bound by their kept bytes and their length, never parsing them', () => {
    const big = (fill: string, n: number) => `{"data":"${fill.repeat(n)}"}`;
    // Same first 1 KiB and same length: agree as far as the bound lets one see.
    expect(compare(answer(200, `${big('a', 5000)}x`, undefined, 1024), answer(200, `${big('a', 5000)}y`, undefined, 1024))).toEqual([]);
    const d = compare(answer(200, big('a', 5000), undefined, 1024), answer(200, big('a', 6000), undefined, 1024));
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ kind: 'body', field: null });
    expect(d[0]!.primary).toMatch(/\(5011 bytes\)$/);
    expect(d[0]!.mirror).toMatch(/\(6011 bytes\)$/);
  });

  it('bounds the walk of deeply nested documents', () => {
    const nest = (depth: number, leaf: string) => '['.repeat(depth) + leaf + ']'.repeat(depth);
    // 100 000 levels: JSON.parse copes; the diff walks MAX_JSON_DEPTH levels and judges the rest without recursion.
    const whole = 1 << 20;
    expect(compare(answer(200, nest(100_000, '1'), undefined, whole), answer(200, nest(100_000, '1'), undefined, whole))).toEqual([]);
    const d = compare(answer(200, nest(100_000, '1'), undefined, whole), answer(200, nest(100_000, '2'), undefined, whole));
    expect(d).toHaveLength(1);
    expect(d[0]!.field).toBe(`$${'[*]'.repeat(MAX_JSON_DEPTH)}`);
    expect(d[0]!.primary).toMatch(/nested deeper than 64 levels/);
  });

  it('compares unicode by meaning in JSON and by bytes in text', () => {
    expect(compare(answer(200, '{"name":"日本"}'), answer(200, '{"name":"\\u65e5\\u672c"}'))).toEqual([]);
    expect(compare(answer(200, '{"name":"日本"}'), answer(200, '{"name":"日本語"}'))).toEqual([
      { kind: 'body', field: '$.name', primary: '"日本"', mirror: '"日本語"' },
    ]);
  });

  it('compares the selected headers only, and every stable header with *', () => {
    const p = answer(200, '{}', ['content-type', 'application/json', 'etag', '"1"', 'date', 'Mon', 'x-a', '1']);
    const m = answer(200, '{}', ['content-type', 'application/json; charset=utf-8', 'etag', '"2"', 'date', 'Tue']);
    expect(compare(p, m)).toEqual([
      { kind: 'header', field: 'content-type', primary: 'application/json', mirror: 'application/json; charset=utf-8' },
    ]);
    expect(compare(p, m, { headers: ['*'], ignoreHeaders: ['etag'] }).map((d) => d.field)).toEqual(['content-type', 'x-a']);
  });

  it('reports a differing credential header without its values', () => {
    const p = answer(200, '{}', ['content-type', 'application/json', 'set-cookie', 'session=primary-secret']);
    const m = answer(200, '{}', ['content-type', 'application/json', 'set-cookie', 'session=mirror-secret']);
    const found = compare(p, m, { headers: ['*'] });
    expect(found).toEqual([{ kind: 'header', field: 'set-cookie', primary: '(redacted)', mirror: '(redacted)' }]);
    expect(JSON.stringify(compare(p, m, { headers: ['set-cookie', 'authorization'] }))).not.toContain('secret');
    expect(compare(p, answer(200, '{}'), { headers: ['set-cookie'] })).toEqual([
      { kind: 'header', field: 'set-cookie', primary: '(redacted)', mirror: '(absent)' },
    ]);
  });

  it('does not compare bodies when body is off', () => {
    expect(compare(answer(200, '{"a":1}'), answer(200, '{"a":2}'), { body: false })).toEqual([]);
  });
});
