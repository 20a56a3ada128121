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

/** Compiles `pattern` for whole-string matching. Throws when it is not valid RE2. */
export function compileRegex(pattern: string): CompiledRegex {
  const re = RE2JS.compile(pattern);
  return {
    source: pattern,
    test: (input: string) => re.matches(input),
  };
}
