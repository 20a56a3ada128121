import type { z } from 'zod';
import { InputError, type ErrorDetail } from './errors.js';

/** Turns zod issues into details whose path names the field, e.g. `traffic.weights`. */
export function zodDetails(error: z.ZodError, prefix: (string | number)[] = []): ErrorDetail[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map(String).join('.'),
    message: issue.message,
  }));
}

/** Parses `input` with `schema`, or throws one InputError listing every problem. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, prefix: (string | number)[] = []): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw InputError.fromDetails(zodDetails(result.error, prefix));
  return result.data;
}
