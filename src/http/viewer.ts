import type { FastifyReply, FastifyRequest } from 'fastify';
import { isAcihostError } from '../errors.ts';
import type { Registry } from '../registry/registry.ts';
import type { TokenRecord } from '../registry/access/tokens.ts';
import { presentedToken } from './credentials.ts';
import { countFailedAuth, ignoreCredentials } from './failed-auth-limit.ts';

/**
 * The token a read request presents, if any. A presented token that is wrong is a
 * 401: a tool should learn that its token is bad rather than see less.
 */
export async function optionalToken(registry: Registry, request: FastifyRequest): Promise<TokenRecord | undefined> {
  const presented = presentedToken(request);
  return presented === undefined ? undefined : registry.tokens.authenticate(presented);
}

/**
 * The token behind a page view, or undefined. Pages stay public whatever is sent:
 * rkt sends its auth.d credentials to discovery too, and a stale token there must
 * not break discovery of public images.
 */
export async function pageViewer(registry: Registry, request: FastifyRequest): Promise<TokenRecord | undefined> {
  if (ignoreCredentials(request)) return undefined;
  try {
    return await optionalToken(registry, request);
  } catch (e) {
    if (!isAcihostError(e) || e.kind !== 'unauthenticated') throw e;
    // The page is answered, but a wrong token still counts: a page showing private names is an oracle.
    countFailedAuth(request);
    return undefined;
  }
}

/** Marks a response whose content depends on the request's credentials (docs/http-api.md#private-prefixes). */
export function privateResponse(reply: FastifyReply, moving: boolean): FastifyReply {
  return reply.header('cache-control', moving ? 'private, no-cache' : 'private').header('vary', 'Authorization');
}
