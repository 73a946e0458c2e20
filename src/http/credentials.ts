import type { FastifyRequest } from 'fastify';

/**
 * The token a request presents: `Authorization: Bearer TOKEN`, or Basic auth with
 * the token as password (acpush and rkt's auth.d basic type send that; the user
 * name is ignored).
 */
export function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const space = header.indexOf(' ');
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer') return value;
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

const TOKEN_ID = /^acih_([0-9a-f]{20})_/;

/** The public id part of the presented token (for logs and limits), never the secret. */
export function presentedTokenId(request: FastifyRequest): string | undefined {
  return TOKEN_ID.exec(presentedToken(request) ?? '')?.[1];
}
