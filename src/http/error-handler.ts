import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isAcihostError, type AcihostError, type ErrorKind } from '../errors.ts';

const STATUS: Record<ErrorKind, number> = {
  malformed: 400,
  invalid: 422,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  'unsupported-media': 415,
  'too-many': 429,
  unavailable: 503,
  'insufficient-storage': 507,
};

export const statusOf = (e: AcihostError): number => STATUS[e.kind];

export const WWW_AUTHENTICATE = 'Bearer realm="acihost", Basic realm="acihost"';

export interface ErrorBody {
  error: { code: string; message: string };
}

export const errorBody = (code: string, message: string): ErrorBody => ({ error: { code, message } });

/** Fastify's own 4xx errors (bad headers, wrong content type, ...) keep their status with our shape. */
function fromFastify(error: FastifyError): { status: number; body: ErrorBody } | null {
  const status = error.statusCode ?? 500;
  if (status < 400 || status >= 500) return null;
  const code = (error.code ?? 'BAD_REQUEST').replace(/^FST_(ERR_)?/, '');
  return { status, body: errorBody(code, error.message) };
}

/**
 * The one place where errors become HTTP: domain errors by kind, framework 4xx as
 * they are, and everything else as a 500 that names the request id, not internals.
 */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (isAcihostError(error)) {
      const status = statusOf(error);
      if (status === 401) reply.header('www-authenticate', WWW_AUTHENTICATE);
      if (status >= 500) request.log.error({ err: error }, 'failed to serve request');
      else request.log.info({ code: error.code }, 'refused request');
      return reply.status(status).send(errorBody(error.code, error.message));
    }
    const known = fromFastify(error);
    if (known) return reply.status(known.status).send(known.body);
    // A client that hung up mid-request is not a server failure; nobody is left to answer.
    if (request.raw.destroyed || request.raw.socket?.destroyed) {
      request.log.info({ code: error.code }, 'client closed the connection');
      return reply.status(499).send();
    }
    request.log.error({ err: error }, 'failed to serve request');
    return reply
      .status(500)
      .send(errorBody('INTERNAL', `internal error; the operator can find it in the server log under request id ${request.id}`));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody('NOT_FOUND', `nothing at ${request.url.split('?')[0]}`));
  });
}
