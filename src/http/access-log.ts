/**
 * One structured access line per request, and the request metrics, from one
 * onResponse hook (and for answers given from memory, src/http/memory-answers.ts,
 * from the same function). The line carries the request id (pino's reqId), method, route
 * pattern, URL, status, bytes each way, duration and the id of the presented
 * token: never the token, never the Authorization header.
 *
 * Bytes are counted on the connection since the previous response on it, so the
 * lines of one keep-alive connection add up to its whole traffic: sent bytes are
 * the cleartext response (headers and body), received bytes what arrived on the
 * wire (with TLS: its framing, and the handshake on a connection's first request).
 */
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
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

interface Exchange {
  method: string;
  route: string;
  url: string;
  status: number;
  ms: number;
  socket: Socket | null | undefined;
  tokenId: string | null;
  ip: string;
  /** Only for answers given outside Fastify: its request loggers carry the id already. */
  reqId?: string;
}

/** Counts one answered request in the metrics and writes its access line. */
export function recordExchange(metrics: Metrics, log: FastifyBaseLogger, x: Exchange): void {
  const bytes = bytesSinceLastResponse(x.socket);
  metrics.requests.inc({ method: x.method, route: x.route, status: String(x.status) });
  metrics.latency.observe({ method: x.method, route: x.route }, x.ms / 1000);
  metrics.bytesSent.inc({ route: x.route }, bytes.sent);
  metrics.bytesReceived.inc({ route: x.route }, bytes.received);
  log.info(
    {
      reqId: x.reqId,
      method: x.method,
      route: x.route,
      url: x.url,
      status: x.status,
      bytesSent: bytes.sent,
      bytesReceived: bytes.received,
      ms: Math.round(x.ms),
      tokenId: x.tokenId,
      ip: x.ip,
    },
    'request completed',
  );
}

export function observeRequests(app: FastifyInstance, metrics: Metrics): void {
  // A callback hook, not an async one: it runs on every request, and a promise per call costs.
  app.addHook('onResponse', (request, reply, done) => {
    recordExchange(metrics, request.log, {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      url: request.url,
      status: reply.statusCode,
      ms: reply.elapsedTime,
      socket: request.raw.socket,
      tokenId: presentedTokenId(request) ?? null,
      ip: request.ip,
    });
    done();
  });
}
