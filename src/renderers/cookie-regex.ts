import { RE2JS } from 're2js';
import { InputError, type StringMatch } from '../core/index.js';

/** Beyond this many cookie conditions in one block the regex (one alternative per order) grows too large. */
const MAX_COOKIES_PER_BLOCK = 4;

/**
 * The regex on the `cookie` header that holds when every given cookie condition holds, as browsers send
 * cookies (RFC 6265: `a=1; user=jason; b=2`, a space after each `;`). One cookie `user` exact `jason` gives
 * `^(.*?;\s*)?(user=jason)(;.*)?$`: the cookie starts the header or follows `;` and optional spaces, and
 * its value ends at `;` or at the end. Istio's own sample, `^(.*?;)?(user=jason)(;.*)?$`, misses the space.
 *
 * Names and exact or prefix values are escaped; a prefix value may continue with anything but `;`; a regex
 * value is used as given, in a group (RE2, like Envoy). Several cookies may come in any order, so each order
 * is an alternative. `path` names the block in error messages.
 */
export function cookieHeaderRegex(conditions: Record<string, StringMatch>, path = 'cookie'): string {
  const pairs = Object.entries(conditions).map(([name, match]) => `(${RE2JS.quote(name)}=${valuePattern(match)})`);
  if (pairs.length === 0)
    throw new InputError(`${path}: needs at least one cookie condition`, [{ path, message: 'needs at least one cookie condition' }]);
  if (pairs.length === 1) return `^(.*?;\\s*)?${pairs[0]}(;.*)?$`;
  if (pairs.length > MAX_COOKIES_PER_BLOCK) {
    const message = `${pairs.length} cookie conditions in one block cannot be rendered to Istio (at most ${MAX_COOKIES_PER_BLOCK}); split them or use a header condition`;
    throw new InputError(`${path}: ${message}`, [{ path, message }]);
  }
  const alternatives = permutations(pairs).map((order) => `(.*?;\\s*)?${order.join(';(.*?;)?\\s*')}(;.*)?`);
  return `^(?:${alternatives.join('|')})$`;
}

function valuePattern(match: StringMatch): string {
  if (match.exact !== undefined) return RE2JS.quote(match.exact);
  if (match.prefix !== undefined) return `${RE2JS.quote(match.prefix)}[^;]*`;
  return `(?:${match.regex ?? ''})`;
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  const out: T[][] = [];
  for (const [i, item] of items.entries()) {
    const rest = [...items.slice(0, i), ...items.slice(i + 1)];
    for (const tail of permutations(rest)) out.push([item, ...tail]);
  }
  return out;
}
