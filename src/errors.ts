import type { CodeOf, ErrorCode, ErrorKind, InternalCode } from './error-codes.ts';

export type { ErrorKind };

/**
 * The domain errors. Domain code throws `AcihostError` with a stable
 * UPPER_SNAKE_CASE `code` from src/error-codes.ts and a `kind`; only the HTTP
 * layer (src/http/error-handler.ts) turns a kind into a status code.
 */
export class AcihostError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AcihostError';
    this.kind = kind;
    this.code = code;
  }
}

export const isAcihostError = (e: unknown): e is AcihostError => e instanceof AcihostError;

const make =
  <K extends ErrorKind>(kind: K) =>
  (code: CodeOf<K>, message: string, cause?: unknown) =>
    new AcihostError(kind, code, message, cause === undefined ? undefined : { cause });

export const malformed = make('malformed');
export const invalid = make('invalid');
export const unauthenticated = make('unauthenticated');
export const forbidden = make('forbidden');
export const notFound = make('not-found');
export const conflict = make('conflict');
export const tooLarge = make('too-large');
export const tooMany = make('too-many');
export const unavailable = make('unavailable');
export const insufficientStorage = make('insufficient-storage');
export const badGateway = make('bad-gateway');
export const gatewayTimeout = make('gateway-timeout');

/**
 * A broken invariant inside the server, never a client's doing (a storage key that
 * no layout function makes, say). Not an AcihostError on purpose: it is answered
 * as the plain 500 that names the request id, and its message goes to the log only.
 */
export class InternalError extends Error {
  readonly code: InternalCode;
  constructor(code: InternalCode, message: string) {
    super(message);
    this.name = 'InternalError';
    this.code = code;
  }
}
