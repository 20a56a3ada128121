import type { MatchBlock, StringMatch } from './model.js';
import { cookieValue } from './cookie.js';
import { compileRegex } from './regex.js';

/** A compiled string condition: absent values never match. */
export type StringMatcher = (value: string | undefined) => boolean;

export function compileStringMatch(m: StringMatch): StringMatcher {
  if (m.exact !== undefined) {
    const want = m.exact;
    return (v) => v === want;
  }
  if (m.prefix !== undefined) {
    const want = m.prefix;
    return (v) => v?.startsWith(want) === true;
  }
  const re = compileRegex(m.regex ?? '');
  return (v) => v !== undefined && re.test(v);
}

/** What a match block needs to know about a request; the proxy fills one per request lazily. */
export interface RequestView {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Header value by lower-case name (first value when repeated). */
  header(name: string): string | undefined;
  /** Query parameter value by name. */
  query(name: string): string | undefined;
}

export type BlockMatcher = (req: RequestView) => boolean;

/** Compiles one match block (AND of its conditions). */
export function compileMatchBlock(block: MatchBlock): BlockMatcher {
  const checks: BlockMatcher[] = [];
  if (block.uri) {
    const m = compileStringMatch(block.uri);
    checks.push((r) => m(r.path));
  }
  if (block.method) {
    const m = compileStringMatch(block.method);
    checks.push((r) => m(r.method));
  }
  for (const [name, sm] of Object.entries(block.headers ?? {})) {
    const m = compileStringMatch(sm);
    const lower = name.toLowerCase();
    checks.push((r) => m(r.header(lower)));
  }
  for (const [name, sm] of Object.entries(block.cookie ?? {})) {
    const m = compileStringMatch(sm);
    checks.push((r) => m(cookieValue(r.header('cookie'), name)));
  }
  for (const [name, sm] of Object.entries(block.queryParams ?? {})) {
    const m = compileStringMatch(sm);
    checks.push((r) => m(r.query(name)));
  }
  if (checks.length === 0) return () => true;
  if (checks.length === 1) return checks[0]!;
  return (r) => {
    for (let i = 0; i < checks.length; i++) if (!checks[i]!(r)) return false;
    return true;
  };
}

/**
 * Compiled blocks by their content, shared by every rule of a route table that has the same block (a cookie or
 * query condition repeated across a thousand services is then one matcher, one regex program, warm in the caches).
 */
export type SharedMatchers = Map<string, BlockMatcher>;

function sharedBlock(block: MatchBlock, shared: SharedMatchers): BlockMatcher {
  const key = JSON.stringify(block);
  let m = shared.get(key);
  if (m === undefined) {
    m = compileMatchBlock(block);
    shared.set(key, m);
  }
  return m;
}

/**
 * Compiles a rule's match list (OR of blocks). No list, or an empty one, matches every request. With `shared`,
 * blocks already compiled for another rule with the same content are reused.
 */
export function compileMatch(blocks: MatchBlock[] | undefined, shared?: SharedMatchers): BlockMatcher {
  if (!blocks || blocks.length === 0) return () => true;
  const compiled = shared === undefined ? blocks.map(compileMatchBlock) : blocks.map((b) => sharedBlock(b, shared));
  if (compiled.length === 1) return compiled[0]!;
  return (r) => {
    for (let i = 0; i < compiled.length; i++) if (compiled[i]!(r)) return true;
    return false;
  };
}
