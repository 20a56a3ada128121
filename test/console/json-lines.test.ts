import { describe, expect, it } from 'vitest';
import { bodyLines, parseJsonPath } from '../../web/src/release/json-lines.js';

/** The comparison's example bodies: pretty-printed JSON with the differing field's lines marked. */
describe('body lines of a difference example', () => {
  it('parses the JSON paths the comparison reports', () => {
    expect(parseJsonPath('$')).toEqual([]);
    expect(parseJsonPath('$.rating')).toEqual(['rating']);
    expect(parseJsonPath('$.reviews[1].rating.stars')).toEqual(['reviews', 1, 'rating', 'stars']);
    expect(parseJsonPath("$['odd key']")).toEqual(['odd key']);
    expect(parseJsonPath('rating')).toBeNull();
    expect(parseJsonPath('$.a[')).toBeNull();
  });

  it('marks exactly the lines of the differing field, nested values included', () => {
    const body = JSON.stringify({ id: 0, reviews: [{ rating: { stars: 5, color: 'black' } }, { rating: { stars: 4 } }], at: 'x' });
    const lines = bodyLines(body, '$.reviews[0].rating');
    expect(lines.filter((l) => l.marked).map((l) => l.text.trim())).toEqual(['"rating": {', '"stars": 5,', '"color": "black"', '}']);
    expect(lines.map((l) => l.text).join('\n')).toBe(JSON.stringify(JSON.parse(body), null, 2));
    expect(
      bodyLines(body, '$.id')
        .filter((l) => l.marked)
        .map((l) => l.text),
    ).toEqual(['  "id": 0,']);
  });

  it('shows a body that is not JSON as it is, and a missing field marks nothing', () => {
    expect(bodyLines('plain\ntext', '$.x')).toEqual([
      { text: 'plain', marked: false },
      { text: 'text', marked: false },
    ]);
    expect(bodyLines('{"a":1}', '$.b').some((l) => l.marked)).toBe(false);
    expect(bodyLines(null, '$.a')).toEqual([]);
  });
});
