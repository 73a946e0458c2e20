import type { FastifyRequest } from 'fastify';

const signals = new WeakMap<FastifyRequest, AbortSignal>();

/**
 * Aborted when the request ends before its body was read whole: the client hung
 * up, a timeout or the slow-client guard cut the connection, or the server closed
 * it on shutdown. A stream fed by the body would otherwise wait forever for bytes
 * that will never come, holding its scratch file open. Every upload path hands
 * this to its staging (src/registry/stage-image.ts) so staging ends with the request.
 */
export function requestLifetime(request: FastifyRequest): AbortSignal {
  const known = signals.get(request);
  if (known) return known;
  const raw = request.raw;
  const controller = new AbortController();
  const cut = () => controller.abort(new Error('the request ended before its body was complete'));
  if (raw.destroyed && !raw.complete) cut();
  // 'close' also comes after a body read to its end; only an incomplete one is a cut.
  else if (!raw.destroyed) raw.once('close', () => raw.complete || cut());
  signals.set(request, controller.signal);
  return controller.signal;
}
