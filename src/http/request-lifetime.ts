import type { FastifyReply, FastifyRequest } from 'fastify';

const signals = new WeakMap<FastifyRequest, AbortSignal>();

/**
 * Aborted when nobody is left to answer: the request ended before its body was
 * read whole (the client hung up, a timeout or the slow-client guard cut the
 * connection, or the server closed it on shutdown), or the connection closed
 * before the answer was sent. A stream fed by a cut body would otherwise wait
 * for ever for bytes that never come, holding its scratch file open; and a
 * small upload can sit whole in the server's buffers long before it is decoded,
 * so the work for it must stop when its client goes, not when its body ends.
 * Every upload path hands this to its staging (src/registry/publish/stage-image.ts).
 */
export function requestLifetime(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const known = signals.get(request);
  if (known) return known;
  const controller = new AbortController();
  const cut = (why: string) => controller.abort(new Error(why));
  const raw = request.raw;
  const res = reply.raw;
  // 'close' also comes after a body read to its end; only an incomplete one is a cut.
  const onRequestClose = () => raw.complete || cut('the request ended before its body was complete');
  const onResponseClose = () => res.writableFinished || cut('the client closed the connection before the answer');
  if (raw.destroyed) onRequestClose();
  else raw.once('close', onRequestClose);
  if (res.closed) onResponseClose();
  else res.once('close', onResponseClose);
  signals.set(request, controller.signal);
  return controller.signal;
}
