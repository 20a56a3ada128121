import { RE2JS } from 're2js';

/**
 * User regexes run in RE2 (linear time, no backtracking). Istio/Envoy use RE2 too, so a pattern that
 * compiles here means the same in the rendered VirtualService. Matching is on the whole string.
 */
export interface CompiledRegex {
  readonly source: string;
  test(input: string): boolean;
}

/** Returns why `pattern` is not valid RE2, or undefined. */
export function regexProblem(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return `not a valid RE2 regex (${why}); lookarounds and backreferences are not supported`;
  }
}

/** What the source of a whole-string regex says about every string it matches. */
export interface RegexLiterals {
  /** Every match starts with this (ASCII) text; '' when nothing is known. */
  prefix: string;
  /** The pattern is that text and nothing else: a match is the text itself. */
  complete: boolean;
}

const NOTHING_KNOWN: RegexLiterals = { prefix: '', complete: false };

/** ASCII punctuation, which RE2 takes literally after a backslash (`\.`, `\/`, `\-`, ...). */
function isAsciiPunctuation(c: number): boolean {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
}

/** Characters that mean something outside a character class. */
function isMeta(c: number): boolean {
  switch (c) {
    case 36: // $
    case 40: // (
    case 41: // )
    case 42: // *
    case 43: // +
    case 46: // .
    case 63: // ?
    case 91: // [
    case 92: // \
    case 93: // ]
    case 94: // ^
    case 123: // {
    case 124: // |
    case 125: // }
      return true;
    default:
      return false;
  }
}

/**
 * True when `pattern` has an alternation outside every group (`a|b`), so no literal is common to all its
 * matches; also true when the pattern uses a construct this scan does not follow (`\Q...\E`, `[[:alpha:]]`), to
 * stay on the safe side.
 */
function topLevelAlternationOrUnknown(pattern: string): boolean {
  let depth = 0;
  const n = pattern.length;
  let i = 0;
  while (i < n) {
    const c = pattern.charCodeAt(i);
    if (c === 92 /* \ */) {
      if (pattern.charCodeAt(i + 1) === 81 /* Q */) return true;
      i += 2;
    } else if (c === 91 /* [ */) {
      i++;
      if (pattern.charCodeAt(i) === 94 /* ^ */) i++;
      if (pattern.charCodeAt(i) === 93 /* ] first is literal */) i++;
      for (;;) {
        if (i >= n) return true;
        const d = pattern.charCodeAt(i);
        if (d === 93) break;
        if (d === 91) return true; // POSIX classes like [:alpha:]
        i += d === 92 ? 2 : 1;
      }
      i++;
    } else {
      if (c === 40 /* ( */) depth++;
      else if (c === 41 /* ) */) depth--;
      else if (c === 124 /* | */ && depth === 0) return true;
      i++;
    }
  }
  return false;
}

/**
 * The literal text every whole-string match of `pattern` starts with, read from its source: the ASCII characters
 * before the first construct that is not a plain character (a leading `^` is skipped, as a whole-string match
 * starts at the beginning anyway). A character followed by a quantifier is left out, a top-level alternation
 * means nothing is known, and anything unusual ends the scan early: the prefix may be shorter than it could be,
 * never wrong. `complete` when the pattern is only that text (optionally between `^` and `$`).
 */
export function regexLiterals(pattern: string): RegexLiterals {
  if (topLevelAlternationOrUnknown(pattern)) return NOTHING_KNOWN;
  const n = pattern.length;
  let i = pattern.charCodeAt(0) === 94 /* ^ */ ? 1 : 0;
  // Characters collected in a list and joined once: the prefix is then a flat string, cheap to compare with.
  const chars: string[] = [];
  while (i < n) {
    const c = pattern.charCodeAt(i);
    let ch: string;
    let width: number;
    if (c === 92 /* \ */ && i + 1 < n && isAsciiPunctuation(pattern.charCodeAt(i + 1))) {
      ch = pattern[i + 1]!;
      width = 2;
    } else if (c === 36 /* $ */ && i === n - 1) {
      // `$` (no multi-line flag: the end of the text) closing an all-literal pattern.
      return { prefix: chars.join(''), complete: true };
    } else if (c < 32 || c > 126 || isMeta(c)) {
      return { prefix: chars.join(''), complete: false };
    } else {
      ch = pattern[i]!;
      width = 1;
    }
    const next = pattern.charCodeAt(i + width);
    // `a*`, `a?`, `a{0,2}`, `a+`: the character may be missing or repeated, so the known text stops before it.
    if (next === 42 || next === 63 || next === 123 || next === 43) return { prefix: chars.join(''), complete: false };
    chars.push(ch);
    i += width;
  }
  return { prefix: chars.join(''), complete: true };
}

/**
 * Compiles `pattern` for whole-string matching. Throws when it is not valid RE2. A literal prefix read from the
 * pattern is checked first (a string that does not start with it cannot match), so most non-matching inputs never
 * reach the RE2 program; a pattern that is plain text is a string comparison.
 */
export function compileRegex(pattern: string): CompiledRegex {
  const re = RE2JS.compile(pattern);
  const { prefix, complete } = regexLiterals(pattern);
  if (complete) return { source: pattern, test: (input: string) => input === prefix };
  if (prefix === '') return { source: pattern, test: (input: string) => re.matches(input) };
  return { source: pattern, test: (input: string) => input.startsWith(prefix) && re.matches(input) };
}
