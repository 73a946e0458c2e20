/**
 * One structured access line per request, and the request metrics, for requests
 * Fastify answers (the onResponse hook below) and for answers given from memory
 * (src/http/memory-answers.ts) alike. The line carries the request id, method,
 * route pattern, URL, status, bytes each way, duration and the id of the
 * presented token: never the token, never the Authorization header.
 *
 * Bytes are counted on the connection since the previous response on it, so the
 * lines of one keep-alive connection add up to its whole traffic: sent bytes are
 * the cleartext response (headers and body), received bytes what arrived on the
 * wire (with TLS: its framing, and the handshake on a connection's first request).
 *
 * The line is pino's own format (level, time, the logger's bindings, the fields,
 * msg), written to the logger's destination, but formatted here: its fields are
 * fixed and hold no credentials, and at tens of thousands of answers a second
 * pino's general formatting and one write per line cost a third of the server's
 * time (bench/). Lines of one turn of the event loop go out in one write.
 */
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { Metrics } from '../ops/metrics.ts';
import { presentedTokenId } from './credentials.ts';

interface Exchange {
  reqId: string;
  method: string;
  route: string;
  url: string;
  status: number;
  ms: number;
  socket: Socket | null | undefined;
  tokenId: string | null;
  ip: string | undefined;
}

interface Counted {
  sent: number;
  received: number;
}

export class AccessLog {
  readonly #metrics: Metrics;
  readonly #logger: Logger;
  readonly #stream: pino.DestinationStream;
  /** `{"level":30,"time":` and `,"service":"acihost"`: what pino puts around the time. */
  readonly #head: string;
  readonly #bindings: string;
  readonly #counted = new WeakMap<Socket, Counted>();
  #pending = '';

  constructor(metrics: Metrics, logger: Logger) {
    this.#metrics = metrics;
    this.#logger = logger;
    this.#stream = (logger as Logger & { [pino.symbols.streamSym]: pino.DestinationStream })[pino.symbols.streamSym];
    this.#head = `{"level":${logger.levels.values.info},"time":`;
    const bindings = JSON.stringify(logger.bindings()).slice(1, -1);
    this.#bindings = bindings ? `,${bindings}` : '';
  }

  /** Counts one answered request in the metrics and writes its access line. */
  record(x: Exchange): void {
    const bytes = this.#sinceLastResponse(x.socket);
    const m = this.#metrics;
    m.requests.inc({ method: x.method, route: x.route, status: String(x.status) });
    m.latency.observe({ method: x.method, route: x.route }, x.ms / 1000);
    m.bytesSent.inc({ route: x.route }, bytes.sent);
    m.bytesReceived.inc({ route: x.route }, bytes.received);
    if (!this.#logger.isLevelEnabled('info')) return;
    if (this.#pending === '') setImmediate(this.#flush);
    this.#pending +=
      `${this.#head}${Date.now()}${this.#bindings},"reqId":${JSON.stringify(x.reqId)},"method":${JSON.stringify(x.method)}` +
      `,"route":${JSON.stringify(x.route)},"url":${JSON.stringify(x.url)},"status":${x.status}` +
      `,"bytesSent":${bytes.sent},"bytesReceived":${bytes.received},"ms":${Math.round(x.ms)}` +
      `,"tokenId":${x.tokenId === null ? 'null' : JSON.stringify(x.tokenId)}` +
      // As pino would: a field without a value (the address of a socket already gone) is left out.
      `${x.ip === undefined ? '' : `,"ip":${JSON.stringify(x.ip)}`},"msg":"request completed"}\n`;
  }

  /** Writes the pending lines (after each turn of the event loop, and when the app closes). */
  readonly #flush = (): void => {
    const lines = this.#pending;
    this.#pending = '';
    if (lines) this.#stream.write(lines);
  };

  // The one object per connection is updated in place: this runs for every request.
  #sinceLastResponse(socket: Socket | null | undefined): Counted {
    const delta = { sent: 0, received: 0 };
    if (!socket) return delta;
    // A TLS socket counts cleartext written; what it read is counted on the TCP socket beneath it.
    const sent = socket.bytesWritten;
    const received = ((socket as Socket & { _parent?: Socket | null })._parent ?? socket).bytesRead;
    let before = this.#counted.get(socket);
    if (!before) this.#counted.set(socket, (before = { sent: 0, received: 0 }));
    delta.sent = Math.max(0, sent - before.sent);
    delta.received = Math.max(0, received - before.received);
    before.sent = sent;
    before.received = received;
    return delta;
  }

  /** Records every request Fastify answers, and writes what is pending when the app closes. */
  observe(app: FastifyInstance): void {
    // A callback hook, not an async one: it runs on every request, and a promise per call costs.
    app.addHook('onResponse', (request, reply, done) => {
      this.record({
        reqId: request.id,
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
    app.addHook('onClose', (_app, done) => {
      this.#flush();
      done();
    });
  }
}
