import type { CodeOf, ErrorCode, InternalCode } from './error-codes.ts';

/**
 * The domain errors. Domain code throws `AcihostError` with a stable
 * UPPER_SNAKE_CASE `code` from src/error-codes.ts and a `kind`; only the HTTP
 * layer (src/http/error-handler.ts) turns a kind into a status code.
 */
export type ErrorKind =
  | 'malformed' // the request itself is unusable (400 on /-/push only)
  | 'invalid' // archive, manifest, signature or key fails validation (422)
  | 'unauthenticated' // missing or wrong credentials (401)
  | 'forbidden' // credentials fine, but not for this name or scope (403)
  | 'not-found' // (404)
  | 'conflict' // write-once violated (409)
  | 'too-large' // over a configured cap (413)
  | 'too-many' // over what one token may hold or send at once; retry later (429)
  | 'unavailable' // the store is away (503)
  | 'insufficient-storage'; // disk full (507)

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
