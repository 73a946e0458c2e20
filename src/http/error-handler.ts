import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isAcihostError, type AcihostError, type ErrorKind } from '../errors.ts';
import type { ErrorCode } from '../error-codes.ts';
import { frameworkAnswer, type ReasonPhraseCode } from './framework-errors.ts';

export const STATUS: Record<ErrorKind, number> = {
  malformed: 400,
  invalid: 422,
  unauthenticated: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  'too-many': 429,
  unavailable: 503,
  'insufficient-storage': 507,
  'bad-gateway': 502,
  'gateway-timeout': 504,
};

export const statusOf = (e: AcihostError): number => STATUS[e.kind];

export const WWW_AUTHENTICATE = 'Bearer realm="acihost", Basic realm="acihost"';

export interface ErrorBody {
  error: { code: string; message: string };
}

export const errorBody = (code: ErrorCode | ReasonPhraseCode, message: string): ErrorBody => ({ error: { code, message } });

const internalBody = (reqId: string) =>
  errorBody('INTERNAL', `internal error; the operator can find it in the server log under request id ${reqId}`);

/**
 * Whether nobody is left to read an answer. The request stream says nothing here:
 * Node marks it destroyed as soon as its body has been read, with the client
 * still waiting; only the connection and the response tell.
 */
function clientGone(reply: FastifyReply): boolean {
  const socket = reply.raw.socket;
  return reply.raw.destroyed || reply.raw.writableEnded || !socket || socket.destroyed || !socket.writable;
}

/**
 * The one place where errors become HTTP: domain errors by kind, framework 4xx
 * with codes of ours (src/http/framework-errors.ts), and everything else as a
 * 500 that names the request id, not internals.
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
    const known = frameworkAnswer(error);
    if (known) return reply.status(known.status).send(errorBody(known.code, known.message));
    // A client that hung up mid-request is not a server failure; nobody is left to answer.
    if (clientGone(reply)) {
      request.log.info({ code: error.code }, 'client closed the connection');
      return reply.status(499).send();
    }
    request.log.error({ err: error }, 'failed to serve request');
    return reply.status(500).send(internalBody(request.id));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    reply
      .status(404)
      .send(
        errorBody('NOT_FOUND', `nothing answers ${request.method} ${path}; images are under GET /-/aci/ and pushes go to POST /-/push`),
      );
  });
}

/** Fastify's refusals before any route (a bad URL, an overlong parameter): Fastify's `frameworkErrors`. */
export function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const known = frameworkAnswer(error);
  if (!known) {
    request.log.error({ err: error }, 'failed to serve request');
    reply.status(500).send(internalBody(request.id));
    return;
  }
  request.log.info({ code: known.code }, 'refused request');
  reply.status(known.status).send(errorBody(known.code, known.message));
}
