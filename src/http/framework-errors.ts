import { STATUS_CODES } from 'node:http';
import type { FastifyError } from 'fastify';
import type { ErrorCode } from '../error-codes.ts';

/** The code of a Fastify refusal that none of ours names: outside the catalogue, and no route is known to meet one. */
export type ReasonPhraseCode = string & { readonly reasonPhrase: true };

export interface FrameworkAnswer {
  status: number;
  code: ErrorCode | ReasonPhraseCode;
  message: string;
}

/**
 * Fastify's own refusals (before any route runs) with codes and messages of
 * ours: its codes name its internals (FST_ERR_CTP_...), and its messages do not
 * say what to do.
 */
const KNOWN: Record<string, Omit<FrameworkAnswer, 'status'> & { status?: number }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: {
    code: 'JSON_BODY_INVALID',
    message: 'the body is not valid JSON but its Content-Type says application/json; send valid JSON or no body',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: 'JSON_BODY_EMPTY',
    message: 'the body is empty but its Content-Type says application/json; send JSON or leave the Content-Type out',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: 'BODY_TOO_LARGE',
    message: 'the request body is larger than this route reads; images go to POST /-/push or the acpush upload URLs',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'MEDIA_TYPE_UNSUPPORTED',
    message: 'the Content-Type header is not a media type this server reads; send a valid one or none',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'CONTENT_LENGTH_MISMATCH',
    message: 'the body is not as long as its Content-Length header says; send the header that matches the body',
  },
  // A path that does not percent-decode to UTF-8 names nothing here, like any unknown address.
  FST_ERR_BAD_URL: {
    status: 404,
    code: 'NOT_FOUND',
    message: 'nothing at this address: its path is not valid percent-encoded UTF-8; encode each non-ASCII byte of UTF-8 as %XX',
  },
  FST_ERR_MAX_PARAM_LENGTH: {
    code: 'URI_TOO_LONG',
    message: 'a segment of the URL is longer than any this server issues; use the URL it gave',
  },
};

/** Upper snake case of a status's reason phrase: 404 → NOT_FOUND. */
const reasonCode = (status: number) =>
  (STATUS_CODES[status] ?? 'Bad Request').toUpperCase().replace(/[^A-Z0-9]+/g, '_') as ReasonPhraseCode;

/** A Fastify 4xx as our answer; null for anything else (a server failure). */
export function frameworkAnswer(error: FastifyError): FrameworkAnswer | null {
  const status = error.statusCode ?? 500;
  if (status < 400 || status >= 500) return null;
  const known = error.code ? KNOWN[error.code] : undefined;
  // Any other Fastify refusal keeps its message (Fastify's own words, no paths or values of ours).
  return known ? { status, ...known } : { status, code: reasonCode(status), message: error.message };
}
