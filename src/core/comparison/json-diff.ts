import { formatJsonPath, type JsonPathSegment, pathMatches } from './json-path.js';

/** One field that differs between two JSON documents. */
export interface JsonDifference {
  /** The field with array indexes as `[*]` (`$.reviews[*].rating`), what differences are counted under. */
  field: string;
  /** The first concrete occurrence, e.g. `$.reviews[1].rating`. */
  at: string;
  /** Short renderings of the two values; `(absent)` when a side lacks the field. */
  primary: string;
  mirror: string;
}

export interface JsonDiffOptions {
  ignore: readonly (readonly JsonPathSegment[])[];
  /** Stop after this many differing fields (each field once). */
  maxDifferences: number;
  /** Below this depth subtrees are compared whole, without recursion. */
  maxDepth: number;
}

export const ABSENT = '(absent)';
const RENDER_CHARS = 120;

type Kind = 'null' | 'array' | 'object' | 'string' | 'number' | 'boolean';

function kindOf(v: unknown): Kind {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v as Kind;
}

/** A value as a short text: scalars as JSON, containers by their size (never serialised whole). */
export function renderJson(v: unknown): string {
  if (v === undefined) return ABSENT;
  if (Array.isArray(v)) return `array (${v.length} item${v.length === 1 ? '' : 's'})`;
  if (v !== null && typeof v === 'object') {
    const n = Object.keys(v).length;
    return `object (${n} key${n === 1 ? '' : 's'})`;
  }
  const text = JSON.stringify(v);
  return text.length > RENDER_CHARS ? `${text.slice(0, RENDER_CHARS)}…` : text;
}

/**
 * Structural equality without recursion (an explicit stack), for subtrees below the depth limit: key order does
 * not matter, numbers compare as numbers (1 and 1.0 are equal), strings after JSON unescaping.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  const stack: [unknown, unknown][] = [[a, b]];
  while (stack.length > 0) {
    const [x, y] = stack.pop()!;
    if (x === y) continue;
    const kx = kindOf(x);
    if (kx !== kindOf(y)) return false;
    if (kx === 'array') {
      const xa = x as unknown[];
      const ya = y as unknown[];
      if (xa.length !== ya.length) return false;
      for (let i = 0; i < xa.length; i++) stack.push([xa[i], ya[i]]);
    } else if (kx === 'object') {
      const xo = x as Record<string, unknown>;
      const yo = y as Record<string, unknown>;
      const keys = Object.keys(xo);
      if (keys.length !== Object.keys(yo).length) return false;
      for (const k of keys) {
        if (!Object.hasOwn(yo, k)) return false;
        stack.push([xo[k], yo[k]]);
      }
    } else {
      return false; // scalars of one kind that are not ===
    }
  }
  return true;
}

/**
 * The fields of two parsed JSON documents that differ, ignoring the `ignore` paths: object keys in any order,
 * arrays index by index (a length difference is one difference at the array). Each field is reported once (its
 * first occurrence); at most `maxDifferences`; `truncated` when there were more.
 */
export function diffJson(
  primary: unknown,
  mirror: unknown,
  options: JsonDiffOptions,
): { differences: JsonDifference[]; truncated: boolean } {
  const out: JsonDifference[] = [];
  const seen = new Set<string>();
  const path: (string | number)[] = [];
  let truncated = false;
  const { ignore, maxDifferences, maxDepth } = options;

  const ignored = (): boolean => {
    for (const p of ignore) if (p.length <= path.length && pathMatches(p, path)) return true;
    return false;
  };
  const report = (p: string, m: string): void => {
    const field = formatJsonPath(path, true);
    if (seen.has(field)) return;
    if (out.length >= maxDifferences) {
      truncated = true;
      return;
    }
    seen.add(field);
    out.push({ field, at: formatJsonPath(path, false), primary: p, mirror: m });
  };
  const walk = (a: unknown, b: unknown): void => {
    if (truncated || a === b || ignored()) return;
    const ka = kindOf(a);
    const kb = a === undefined || b === undefined ? null : kindOf(b);
    if (a === undefined || b === undefined || ka !== kb) {
      report(renderJson(a), renderJson(b));
      return;
    }
    if (path.length >= maxDepth) {
      // Deeper than the limit: one verdict for the whole subtree (ignored paths inside it no longer apply).
      if (!jsonEqual(a, b)) report(`${renderJson(a)}, nested deeper than ${maxDepth} levels`, renderJson(b));
      return;
    }
    if (ka === 'array') {
      const xa = a as unknown[];
      const ya = b as unknown[];
      const n = Math.min(xa.length, ya.length);
      for (let i = 0; i < n; i++) {
        path.push(i);
        walk(xa[i], ya[i]);
        path.pop();
      }
      if (xa.length !== ya.length) report(renderJson(xa), renderJson(ya));
    } else if (ka === 'object') {
      const xo = a as Record<string, unknown>;
      const yo = b as Record<string, unknown>;
      const keys = new Set([...Object.keys(xo), ...Object.keys(yo)]);
      for (const k of [...keys].sort()) {
        path.push(k);
        walk(Object.hasOwn(xo, k) ? xo[k] : undefined, Object.hasOwn(yo, k) ? yo[k] : undefined);
        path.pop();
      }
    } else {
      report(renderJson(a), renderJson(b));
    }
  };
  walk(primary, mirror);
  return { differences: out, truncated };
}
