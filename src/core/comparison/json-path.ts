/**
 * The small JSONPath subset of `compare.ignoreJsonPaths`: `$`, `.name`, `['name']`, `[3]`, and the wildcards `.*` and
 * `[*]` (any key or index), e.g. `$.timestamp`, `$.items[*].id`. A path ignores the node it names and everything
 * under it. No filters, slices or recursive descent: what a response's volatile fields need, checked when saved.
 */

/** A segment: an object key, an array index, or ANY (one segment of any key or index). */
export type JsonPathSegment = string | number | typeof ANY;
export const ANY: unique symbol = Symbol('any');

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$-]*/;

/** The segments of `text`, or a message saying what is wrong with it. */
export function parseJsonPath(text: string): JsonPathSegment[] | string {
  if (!text.startsWith('$')) return `must start with "$" (e.g. "$.timestamp"), got ${JSON.stringify(text)}`;
  const out: JsonPathSegment[] = [];
  let i = 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '.') {
      const rest = text.slice(i + 1);
      if (rest.startsWith('*')) {
        out.push(ANY);
        i += 2;
        continue;
      }
      const m = IDENT.exec(rest);
      if (m === null) return `expected a name after "." at character ${i + 1} of ${JSON.stringify(text)} (use ['...'] for other keys)`;
      out.push(m[0]);
      i += 1 + m[0].length;
    } else if (c === '[') {
      const close = text.indexOf(']', i);
      if (close < 0) return `"[" at character ${i} of ${JSON.stringify(text)} is never closed`;
      const inner = text.slice(i + 1, close);
      if (inner === '*') out.push(ANY);
      else if (/^\d{1,9}$/.test(inner)) out.push(Number(inner));
      else if (/^'[^']*'$/.test(inner) || /^"[^"]*"$/.test(inner)) out.push(inner.slice(1, -1));
      else return `[${inner}] in ${JSON.stringify(text)} must be an index, * or a quoted key`;
      i = close + 1;
    } else {
      return `unexpected ${JSON.stringify(c)} at character ${i} of ${JSON.stringify(text)}: write $.name, $['name'], $[0] or $.items[*].id`;
    }
  }
  return out;
}

/** Whether `pattern` names `path` or one of its ancestors (an ignored node's subtree is ignored too). */
export function pathMatches(pattern: readonly JsonPathSegment[], path: readonly (string | number)[]): boolean {
  if (pattern.length > path.length) return false;
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p !== ANY && p !== path[i]) return false;
  }
  return true;
}

/**
 * A concrete path as text. With `general`, indexes read `[*]`: the field a difference is counted under, so
 * `$.items[0].rating` and `$.items[7].rating` count as one field.
 */
export function formatJsonPath(path: readonly (string | number)[], general: boolean): string {
  let out = '$';
  for (const seg of path) {
    if (typeof seg === 'number') out += general ? '[*]' : `[${seg}]`;
    else if (IDENT.exec(seg)?.[0] === seg) out += `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
