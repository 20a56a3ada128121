import { diffJson, renderJson } from './json-diff.js';
import { type JsonPathSegment, parseJsonPath } from './json-path.js';

/**
 * The comparison of a mirrored request's two answers (the primary's, which the client got, and the mirror's,
 * which is dropped): status, selected headers, body. Pure: the proxy captures the answers (each body only up to
 * `maxBodyBytes`) and counts what this returns.
 */

/** A release's `compare` options with their defaults applied, as the route table carries them. */
export interface CompareSettings {
  /** Compare bodies (JSON structurally when either side says JSON, else bytes). */
  body: boolean;
  /** Header names compared (lower case); `*` compares every header but the volatile ones. */
  headers: string[];
  /** Header names never compared (with `*`). */
  ignoreHeaders: string[];
  /** JSONPath subset: fields whose differences are not counted, e.g. `$.timestamp`, `$.items[*].id`. */
  ignoreJsonPaths: string[];
  /** Largest request body mirrored, and the bytes of each answer's body kept for the comparison. */
  maxBodyBytes: number;
}

export const DEFAULT_COMPARE: CompareSettings = {
  body: true,
  headers: ['content-type'],
  ignoreHeaders: [],
  ignoreJsonPaths: [],
  maxBodyBytes: 65_536,
};

/** The most `maxBodyBytes` may be: what one pending mirror may hold per body. */
export const MAX_COMPARE_BODY_BYTES = 1_048_576;

/** Headers `*` leaves out: they differ on every answer (or follow from the body) and would be noise. */
const VOLATILE_HEADERS = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'x-request-id', 'age']);

/**
 * Headers that carry credentials or sessions: compared (a difference is still reported) but their values never
 * leave the proxy, since any viewer may read the comparison.
 */
export const SECRET_HEADERS: ReadonlySet<string> = new Set([
  'set-cookie',
  'cookie',
  'authorization',
  'proxy-authorization',
  'www-authenticate',
  'proxy-authenticate',
]);

/** A header's value as the comparison may show it: `(redacted)` for a credential header. */
export function shownHeaderValue(name: string, value: string): string {
  return SECRET_HEADERS.has(name) ? '(redacted)' : value;
}

/** One answer as the proxy captured it. */
export interface CapturedAnswer {
  status: number;
  /** Field names (lower case) and values: [name, value, name, value, ...]. */
  headers: readonly string[];
  /** The first bytes of the body, at most `maxBodyBytes`. */
  body: Uint8Array;
  /** The whole body's length (more than `body.length` when it was cut). */
  bodyBytes: number;
}

export type DifferenceKind = 'status' | 'header' | 'body';

export interface AnswerDifference {
  kind: DifferenceKind;
  /** The header name, the JSON field (`$.rating`, indexes as `[*]`), or null (status, a text body). */
  field: string | null;
  primary: string;
  mirror: string;
}

/** CompareSettings compiled once per route table. */
export interface CompiledCompare {
  settings: CompareSettings;
  allHeaders: boolean;
  headers: readonly string[];
  ignoreHeaders: ReadonlySet<string>;
  ignore: readonly (readonly JsonPathSegment[])[];
}

/** Differences of one body counted at most (each field once); more differing fields count as one more. */
export const MAX_BODY_DIFFERENCES = 8;
/** JSON nesting compared field by field; deeper subtrees get one verdict each. */
export const MAX_JSON_DEPTH = 64;

export function compileCompare(settings: CompareSettings): CompiledCompare {
  const ignore: JsonPathSegment[][] = [];
  for (const p of settings.ignoreJsonPaths) {
    const parsed = parseJsonPath(p);
    // Checked when the release was saved; a hand-made table's bad path is left out rather than failing the table.
    if (typeof parsed !== 'string') ignore.push(parsed);
  }
  const headers = settings.headers.map((h) => h.toLowerCase());
  return {
    settings,
    allHeaders: headers.includes('*'),
    headers: headers.filter((h) => h !== '*'),
    ignoreHeaders: new Set(settings.ignoreHeaders.map((h) => h.toLowerCase())),
    ignore,
  };
}

/** The value of header `name` (lower case), repeated fields joined by ", "; null when absent. */
export function headerValue(headers: readonly string[], name: string): string | null {
  let out: string | null = null;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === name) out = out === null ? headers[i + 1]! : `${out}, ${headers[i + 1]}`;
  }
  return out;
}

function isJsonType(contentType: string | null): boolean {
  if (contentType === null) return false;
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json');
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A body parsed as JSON, or undefined when it is cut, not UTF-8 or not JSON. */
function parseJsonBody(a: CapturedAnswer): unknown {
  if (a.body.length < a.bodyBytes) return undefined;
  try {
    return JSON.parse(strictUtf8.decode(a.body));
  } catch {
    return undefined;
  }
}

const SNIPPET_BYTES = 40;
/** Bytes shown before the first difference, for context. */
const SNIPPET_BEFORE = 10;

function snippet(body: Uint8Array, at: number, total: number): string {
  const from = Math.max(0, at - SNIPPET_BEFORE);
  const text = utf8.decode(body.subarray(from, from + SNIPPET_BYTES));
  const more = from + SNIPPET_BYTES < total ? '…' : '';
  return `${from > 0 ? '…' : ''}${JSON.stringify(text).slice(1, -1)}${more} (${total} bytes)`;
}

/** Bytes compared: the kept prefixes, then the lengths; the snippets start at the first differing byte. */
function diffText(p: CapturedAnswer, m: CapturedAnswer): AnswerDifference | null {
  const a = p.body;
  const b = m.body;
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  if (i === n && p.bodyBytes === m.bodyBytes) {
    // Equal as far as both were kept; a longer kept prefix on one side means different bytes past the other's cut.
    if (a.length === b.length) return null;
  }
  return { kind: 'body', field: null, primary: snippet(a, i, p.bodyBytes), mirror: snippet(b, i, m.bodyBytes) };
}

function diffBodies(p: CapturedAnswer, m: CapturedAnswer, c: CompiledCompare, out: AnswerDifference[]): void {
  if (p.bodyBytes === 0 && m.bodyBytes === 0) return;
  if (isJsonType(headerValue(p.headers, 'content-type')) || isJsonType(headerValue(m.headers, 'content-type'))) {
    const pj = parseJsonBody(p);
    const mj = parseJsonBody(m);
    if (pj !== undefined && mj !== undefined) {
      const { differences, truncated } = diffJson(pj, mj, {
        ignore: c.ignore,
        maxDifferences: MAX_BODY_DIFFERENCES,
        maxDepth: MAX_JSON_DEPTH,
      });
      for (const d of differences) out.push({ kind: 'body', field: d.field, primary: d.primary, mirror: d.mirror });
      if (truncated) out.push({ kind: 'body', field: '(more fields)', primary: `over ${MAX_BODY_DIFFERENCES} fields differ`, mirror: '' });
      return;
    }
    if (pj !== undefined || mj !== undefined) {
      // One side is JSON, the other is not (or was cut): that is the difference.
      const notJson = (a: CapturedAnswer) =>
        a.body.length < a.bodyBytes ? `(${a.bodyBytes} bytes, over the bound: not parsed)` : '(not JSON)';
      out.push({
        kind: 'body',
        field: '$',
        primary: pj !== undefined ? renderJson(pj) : notJson(p),
        mirror: mj !== undefined ? renderJson(mj) : notJson(m),
      });
      return;
    }
  }
  const d = diffText(p, m);
  if (d !== null) out.push(d);
}

/**
 * What differs between the primary's answer and the mirror's. A different status is the one difference reported
 * (the headers and body of a 503 and a 200 differ as a matter of course); else the selected headers, then the body.
 */
export function compareAnswers(primary: CapturedAnswer, mirror: CapturedAnswer, c: CompiledCompare): AnswerDifference[] {
  if (primary.status !== mirror.status) {
    return [{ kind: 'status', field: null, primary: String(primary.status), mirror: String(mirror.status) }];
  }
  const out: AnswerDifference[] = [];
  let names = c.headers;
  if (c.allHeaders) {
    const all = new Set(names);
    for (const h of [primary.headers, mirror.headers]) for (let i = 0; i < h.length; i += 2) all.add(h[i]!);
    names = [...all].filter((n) => !VOLATILE_HEADERS.has(n)).sort();
  }
  for (const name of names) {
    if (c.ignoreHeaders.has(name)) continue;
    const p = headerValue(primary.headers, name);
    const m = headerValue(mirror.headers, name);
    if (p !== m) {
      out.push({
        kind: 'header',
        field: name,
        primary: p === null ? '(absent)' : shownHeaderValue(name, p),
        mirror: m === null ? '(absent)' : shownHeaderValue(name, m),
      });
    }
  }
  if (c.settings.body) diffBodies(primary, mirror, c, out);
  return out;
}
