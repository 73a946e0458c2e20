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
 * pino's general formatting and one write per line cost much of the server's time
 * (docs/benchmarks.md#access-log-and-metrics). Lines of one turn of the event loop
 * are formatted together and go out in one write; the metrics are counted at once
 * (src/ops/metrics/request-metrics.ts).
 */
import cluster from 'node:cluster';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import pino, { type Logger } from 'pino';
import type { RequestMetrics, RequestTally } from '../ops/metrics/request-metrics.ts';
import { presentedTokenId } from './credentials.ts';

/**
 * What every answer to one kind of request shares: its metrics tally and the fixed
 * fields of its access line. Made per request for Fastify's answers; an answer
 * kept in memory makes it once and reuses it for every request it answers.
 */
export interface RequestKind {
  tally: RequestTally;
  /** `,"method":…,"route":…,"url":…,"status":…` */
  fields: string;
}

/** One answered request. */
interface Exchange {
  reqId: string;
  ms: number;
  socket: Socket | null | undefined;
  tokenId: string | null;
  ip: string | undefined;
}

/** Per connection: its byte counters at its previous response, and its address as a field of the line. */
interface Connection {
  sent: number;
  received: number;
  ip: string | undefined;
  ipField: string;
}

/** Lines kept for one write at most; past it they are written at once. */
const BATCH = 4096;

/** The status of a request whose connection closed before any answer was sent (as nginx logs it). */
const CLIENT_CLOSED = 499;

/**
 * How the lines of a turn are written. pino's own destination (src/logger.ts: a
 * synchronous SonicBoom on a descriptor) takes strings, and sonic-boom measures
 * each string twice and encodes it again after the write to find what is left; a
 * second SonicBoom on the same descriptor, in buffer mode, takes the bytes encoded
 * once. Both write at once, in this thread, so their lines never interleave. Any
 * other destination (a transport, a test's stream) gets the string.
 */
function linesWriter(stream: pino.DestinationStream): (text: string) => void {
  const { fd, sync } = stream as { fd?: unknown; sync?: unknown };
  if (sync !== true || typeof fd !== 'number') return (text) => void stream.write(text);
  // pino's own kind of destination, so a closed pipe is ignored as the logger ignores it.
  const bytes = pino.destination({ dest: fd, sync: true, contentMode: 'buffer' });
  // In buffer mode sonic-boom writes Buffers; its types know only strings.
  const write = (b: Buffer) => void bytes.write(b as unknown as string);
  return cluster.isWorker ? (text) => writeWholeLines(Buffer.from(text), write) : (text) => write(Buffer.from(text));
}

// The most a write to a pipe may hold and still never interleave with another process's (POSIX PIPE_BUF on Linux).
const PIPE_BUF = 4096;

/**
 * Workers share one standard output: a write longer than PIPE_BUF to a pipe may be cut in
 * with another worker's, so lines go out in writes of at most that, each ending a line.
 */
function writeWholeLines(text: Buffer, write: (b: Buffer) => void): void {
  let start = 0;
  while (text.length - start > PIPE_BUF) {
    let end = text.lastIndexOf(0x0a, start + PIPE_BUF - 1);
    // A line longer than PIPE_BUF on its own is written whole, as pino writes one.
    if (end < start) end = text.indexOf(0x0a, start + PIPE_BUF);
    if (end < 0) break;
    write(text.subarray(start, end + 1));
    start = end + 1;
  }
  if (start < text.length) write(text.subarray(start));
}

export class AccessLog {
  readonly #metrics: RequestMetrics;
  readonly #logger: Logger;
  readonly #write: (text: string) => void;
  /** `{"level":30,"time":` and `,"service":"acihost"`: what pino puts around the time. */
  readonly #head: string;
  readonly #bindings: string;
  readonly #connections = new WeakMap<Socket, Connection>();
  // The lines of this turn of the event loop, kept as their values in columns and
  // formatted together when written: formatting each as it comes, between the
  // requests' own work, costs more (docs/benchmarks.md#access-log-and-metrics).
  #lines = 0;
  readonly #kinds: RequestKind[] = [];
  readonly #reqIds: string[] = [];
  readonly #tokenIds: (string | null)[] = [];
  readonly #ipFields: string[] = [];
  /** time, bytes sent, bytes received, ms: four per line. */
  readonly #numbers = new Float64Array(4 * BATCH);

  constructor(metrics: RequestMetrics, logger: Logger) {
    this.#metrics = metrics;
    this.#logger = logger;
    this.#write = linesWriter((logger as Logger & { [pino.symbols.streamSym]: pino.DestinationStream })[pino.symbols.streamSym]);
    this.#head = `{"level":${logger.levels.values.info},"time":`;
    const bindings = JSON.stringify(logger.bindings()).slice(1, -1);
    this.#bindings = bindings ? `,${bindings}` : '';
  }

  kind(method: string, route: string, url: string, status: number): RequestKind {
    return {
      tally: this.#metrics.tally(method, route, status),
      fields: `,"method":${JSON.stringify(method)},"route":${JSON.stringify(route)},"url":${JSON.stringify(url)},"status":${status}`,
    };
  }

  /** Counts one answered request in the metrics and writes its access line. */
  record(kind: RequestKind, x: Exchange): void {
    const { socket } = x;
    const c = this.#connection(socket);
    let sent = 0;
    let received = 0;
    if (socket) {
      // A TLS socket counts cleartext written; what it read is counted on the TCP socket beneath it.
      const written = socket.bytesWritten;
      const read = ((socket as Socket & { _parent?: Socket | null })._parent ?? socket).bytesRead;
      sent = Math.max(0, written - c.sent);
      received = Math.max(0, read - c.received);
      c.sent = written;
      c.received = read;
    }
    this.#metrics.add(kind.tally, x.ms / 1000, sent, received);
    if (!this.#logger.isLevelEnabled('info')) return;
    if (x.ip !== c.ip) {
      c.ip = x.ip;
      // As pino would: a field without a value (the address of a socket already gone) is left out.
      c.ipField = x.ip === undefined ? '' : `,"ip":${JSON.stringify(x.ip)}`;
    }
    const i = this.#lines++;
    if (i === 0) setImmediate(this.#flush);
    this.#kinds[i] = kind;
    this.#reqIds[i] = x.reqId;
    this.#tokenIds[i] = x.tokenId;
    this.#ipFields[i] = c.ipField;
    const n = this.#numbers;
    n[4 * i] = Date.now();
    n[4 * i + 1] = sent;
    n[4 * i + 2] = received;
    n[4 * i + 3] = Math.round(x.ms);
    if (i + 1 === BATCH) this.#flush();
  }

  /** Writes the pending lines (after each turn of the event loop, and when the app closes). */
  readonly #flush = (): void => {
    const count = this.#lines;
    if (count === 0) return;
    this.#lines = 0;
    const n = this.#numbers;
    const lines = new Array<string>(count);
    for (let i = 0; i < count; i++) {
      const tokenId = this.#tokenIds[i]!;
      lines[i] =
        `${this.#head}${n[4 * i]}${this.#bindings},"reqId":${JSON.stringify(this.#reqIds[i])}${this.#kinds[i]!.fields}` +
        `,"bytesSent":${n[4 * i + 1]},"bytesReceived":${n[4 * i + 2]},"ms":${n[4 * i + 3]}` +
        `,"tokenId":${tokenId === null ? 'null' : JSON.stringify(tokenId)}${this.#ipFields[i]},"msg":"request completed"}\n`;
    }
    // One flat string: a chain of += would leave a tree of pieces for the write to flatten.
    this.#write(lines.join(''));
  };

  // One object per connection, updated in place: this runs for every request.
  #connection(socket: Socket | null | undefined): Connection {
    const c = socket && this.#connections.get(socket);
    if (c) return c;
    const made = { sent: 0, received: 0, ip: undefined, ipField: '' };
    if (socket) this.#connections.set(socket, made);
    return made;
  }

  /**
   * Records every request Fastify answers, and writes what is pending when the app closes.
   * Fastify's onResponse runs when a response finishes; one whose connection closed
   * first (a client that stopped reading, or one that had every byte it asked for
   * and hung up before the server ended the response) is recorded at its close,
   * with the status it was sent, or 499 when none was (nginx's client-closed status).
   */
  observe(app: FastifyInstance): void {
    const recorded = new WeakSet<FastifyRequest>();
    const recordReply = (request: FastifyRequest, reply: FastifyReply, status: number) => {
      if (recorded.has(request)) return;
      recorded.add(request);
      this.record(this.kind(request.method, request.routeOptions.url ?? 'unmatched', request.url, status), {
        reqId: request.id,
        ms: reply.elapsedTime,
        socket: request.raw.socket,
        tokenId: presentedTokenId(request) ?? null,
        ip: request.ip,
      });
    };
    // Callback hooks, not async ones: they run on every request, and a promise per call costs.
    app.addHook('onRequest', (request, reply, done) => {
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) recordReply(request, reply, reply.raw.headersSent ? reply.statusCode : CLIENT_CLOSED);
      });
      done();
    });
    app.addHook('onResponse', (request, reply, done) => {
      recordReply(request, reply, reply.statusCode);
      done();
    });
    app.addHook('onClose', (_app, done) => {
      this.#flush();
      done();
    });
  }
}
