/**
 * One structured access line per request, and the request metrics, from one
 * onResponse hook. The line carries the request id (pino's reqId), method, route
 * pattern, URL, status, bytes each way, duration and the id of the presented
 * token: never the token, never the Authorization header.
 *
 * Bytes are counted on the connection since the previous response on it, so the
 * lines of one keep-alive connection add up to its whole traffic: sent bytes are
 * the cleartext response (headers and body), received bytes what arrived on the
 * wire (with TLS: its framing, and the handshake on a connection's first request).
 */
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Metrics } from '../ops/metrics.ts';
import { presentedTokenId } from './credentials.ts';

interface Counted {
  sent: number;
  received: number;
}

const countedSoFar = new WeakMap<Socket, Counted>();

// A TLS socket counts cleartext written; what it read is counted on the TCP socket beneath it.
function socketCounts(socket: Socket): Counted {
  const wire = (socket as Socket & { _parent?: Socket | null })._parent ?? socket;
  return { sent: socket.bytesWritten, received: wire.bytesRead };
}

function bytesSinceLastResponse(socket: Socket | null | undefined): Counted {
  if (!socket) return { sent: 0, received: 0 };
  const now = socketCounts(socket);
  const before = countedSoFar.get(socket) ?? { sent: 0, received: 0 };
  countedSoFar.set(socket, now);
  return { sent: Math.max(0, now.sent - before.sent), received: Math.max(0, now.received - before.received) };
}

/** The id part of a presented acihost token (public: it names the token, it cannot be used as one). */

export function observeRequests(app: FastifyInstance, metrics: Metrics): void {
  // A callback hook, not an async one: it runs on every request, and a promise per call costs.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const seconds = reply.elapsedTime / 1000;
    const bytes = bytesSinceLastResponse(request.raw.socket);
    metrics.requests.inc({ method: request.method, route, status: String(status) });
    metrics.latency.observe({ method: request.method, route }, seconds);
    metrics.bytesSent.inc({ route }, bytes.sent);
    metrics.bytesReceived.inc({ route }, bytes.received);
    request.log.info(
      {
        method: request.method,
        route,
        url: request.url,
        status,
        bytesSent: bytes.sent,
        bytesReceived: bytes.received,
        ms: Math.round(reply.elapsedTime),
        tokenId: presentedTokenId(request) ?? null,
        ip: request.ip,
      },
      'request completed',
    );
    done();
  });
}
