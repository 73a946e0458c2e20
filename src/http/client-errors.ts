import { maxHeaderSize, STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { ErrorCode } from '../error-codes.ts';
import { errorBody } from './error-handler.ts';

interface ClientError extends Error {
  code?: string;
}

/** What a request that never reached Fastify is told: one of three, by Node's parser error. */
function answerFor(
  err: ClientError,
  timeouts: { headersTimeoutSeconds: number; requestTimeoutSeconds: number },
): { status: number; code: ErrorCode; message: string } {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return {
      status: 408,
      code: 'REQUEST_TIMEOUT',
      message:
        `the request did not arrive in time (headers within ${timeouts.headersTimeoutSeconds} s, ` +
        `the whole request within ${timeouts.requestTimeoutSeconds} s); send it without pauses`,
    };
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    // Node's parser counts the request line with the headers, so a long URL ends here too.
    return {
      status: 431,
      code: 'HEADERS_TOO_LARGE',
      message: `the request line and headers are larger than ${maxHeaderSize} bytes; shorten the URL or the headers`,
    };
  }
  return {
    status: 400,
    code: 'HTTP_MALFORMED',
    message: 'the request is not valid HTTP/1.1 (its method, request line, a header or the body framing); send a well-formed request',
  };
}

/**
 * Answers what Node's HTTP parser refuses before any route runs (Fastify's
 * `clientErrorHandler`), in the same {"error":{"code","message"}} shape as every
 * other answer, then closes the connection: after a parse error the stream
 * cannot be trusted to hold another request.
 */
export function clientErrorHandler(
  log: FastifyBaseLogger,
  timeouts: { headersTimeoutSeconds: number; requestTimeoutSeconds: number },
): (err: ClientError, socket: Socket) => void {
  return (err, socket) => {
    // A reset connection has nobody to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const answer = answerFor(err, timeouts);
    log.debug({ code: answer.code, parserCode: err.code }, 'refused a request Node could not parse');
    // As Node does: no answer over one whose headers were already sent.
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const body = JSON.stringify(errorBody(answer.code, answer.message));
      socket.write(
        `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\n` +
          `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `Connection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(err);
  };
}
