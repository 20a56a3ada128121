import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isStorageFull } from '../store/database-file.js';
import {
  AuthError,
  CanaryError,
  ConflictError,
  type ErrorDetail,
  ForbiddenError,
  InputError,
  NotAllowedError,
  NotFoundError,
} from '../core/index.js';

/** The one error body of the API. */
export interface ErrorBody {
  error: { code: string; message: string; details: ErrorDetail[] };
}

const codeByStatus: Record<number, string> = {
  400: 'InvalidInput',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
  421: 'MisdirectedRequest',
  429: 'TooManyRequests',
};

function statusOf(err: CanaryError): number {
  if (err instanceof InputError) return 400;
  if (err instanceof AuthError) return 401;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ConflictError || err instanceof NotAllowedError) return 409;
  return 500;
}

/** Maps any error to a status and the API's error body; the single place where domain errors meet HTTP. */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  if (isStorageFull(err)) {
    // SQLite rolled the transaction back: say so, rather than a 500 that leaves the client guessing.
    const message = "the disk of the control plane's data directory is full: nothing was changed; free some space and retry";
    return { status: 507, body: { error: { code: 'InsufficientStorage', message, details: [] } } };
  }
  if (err instanceof CanaryError) {
    return { status: statusOf(err), body: { error: { code: err.code, message: err.message, details: err.details } } };
  }
  const fe = err as Partial<FastifyError> | null;
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const message =
      fe?.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || /JSON/.test(fe?.message ?? '')
        ? `body: not valid JSON (${fe?.message ?? ''})`
        : (fe?.message ?? 'bad request');
    return { status, body: { error: { code: codeByStatus[status] ?? 'BadRequest', message, details: [] } } };
  }
  return { status: 500, body: { error: { code: 'Internal', message: 'internal error; see the control plane log', details: [] } } };
}

/** Installs the error and not-found handlers: one body shape for every failure, and only 5xx are logged. */
export function installErrorHandling(app: FastifyInstance, notFound?: (request: FastifyRequest, reply: FastifyReply) => unknown): void {
  app.setErrorHandler((err, request, reply) => {
    const { status, body } = toErrorResponse(err);
    if (status >= 500) request.log.error({ err }, `${request.method} ${request.url} failed`);
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="canary"');
    return reply.status(status).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    if (notFound) return notFound(request, reply);
    return reply.status(404).send(notFoundBody(request));
  });
}

export function notFoundBody(request: FastifyRequest): ErrorBody {
  return toErrorResponse(new NotFoundError(`no route for ${request.method} ${request.url.split('?')[0]}`)).body;
}
