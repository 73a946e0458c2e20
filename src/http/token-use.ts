/**
 * Records when each token was last used (src/registry/access/token-use.ts keeps it to a
 * write a minute). A use is a request that presented a valid token and was answered
 * below 400 without a refusal: a 4xx or 5xx is never one, nor an acpush completion
 * refused in a 200, nor a request whose credentials the failed-authentication limit
 * set aside. So a token that is only ever refused (for its scope, its prefixes, a bad
 * body) keeps the last use it had.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Registry } from '../registry/registry.ts';
import { presentedToken } from './credentials.ts';
import { ignoreCredentials, refusedByLimit } from './failed-auth-limit.ts';

// Requests refused with a 200 by their route (the acpush completion).
const refusedIn200 = new WeakSet<FastifyRequest>();

/** Marks a request answered 200 that nevertheless refused what it was asked. */
export function markRefusedIn200(request: FastifyRequest): void {
  refusedIn200.add(request);
}

/**
 * Before the answer leaves, so that a client that has its answer finds storage settled
 * (no write still in flight): the write is at most one a minute per token, so what it
 * adds to that one answer is paid rarely.
 */
export function recordTokenUse(app: FastifyInstance, registry: Registry): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    const presented = reply.statusCode < 400 ? presentedToken(request) : undefined;
    if (!presented || refusedIn200.has(request) || refusedByLimit(request) || ignoreCredentials(request)) return done(null, payload);
    registry.tokens.authenticate(presented).then(
      async (token) => {
        try {
          await registry.tokens.use.note(token.id);
        } catch (err) {
          // Bookkeeping: a store that refuses it must not refuse the answer too.
          request.log.warn({ err, tokenId: token.id }, 'failed to record token use');
        }
        done(null, payload);
      },
      // Not valid (a public page ignores a bad token): nobody's use.
      () => done(null, payload),
    );
  });
}
