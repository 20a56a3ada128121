import type { FastifySchemaCompiler } from 'fastify';
import type { z } from 'zod';
import { InputError, zodDetails } from '../core/index.js';

/**
 * Fastify's validator for zod schemas, reporting through the core's own error format, so a bad body says
 * `traffic.weights: must sum to 100, got 110` here exactly as it does from parseOrThrow anywhere else.
 */
export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema, httpPart }) =>
  (data) => {
    if (httpPart === 'body' && (data === undefined || data === null)) {
      return {
        error: new InputError('body: required: send a JSON object with content-type application/json', [
          { path: 'body', message: 'required' },
        ]),
      };
    }
    const result = schema.safeParse(data);
    if (result.success) return { value: result.data };
    return { error: InputError.fromDetails(zodDetails(result.error)) };
  };
