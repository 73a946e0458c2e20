/**
 * Answers repeated anonymous GETs of discovery pages, signatures and keys from
 * memory, before Fastify sees the request. These are what rkt and build farms ask
 * for most, the answers are small and change only when the catalogue or the keys
 * do; yet routing, hooks, a request logger and reply objects cost Fastify twice
 * what writing the answer does (bench/: 9,000 against 24,000 req/s on one core).
 *
 * A route opts in with `onSend: answers.remember`; a 200 it sends to a GET
 * without credentials, public by its Cache-Control, is kept with its headers and
 * served again byte for byte, with the same access line and metrics. Everything
 * is dropped when the catalogue or the keys change (the generations the page cache
 * watches). Credentials, conditional and range requests, other methods and a
 * shutdown in progress all go through Fastify as before.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';

interface Answer {
  headers: OutgoingHttpHeaders;
  body: Buffer;
  /** The route pattern that made it, for the access line and metrics. */
  route: string;
}

/** One answered request, for the access log and metrics (src/http/access-log.ts). */
export interface AnsweredFromMemory {
  reqId: string;
  route: string;
  url: string;
  status: number;
  ms: number;
  request: IncomingMessage;
}

export interface MemoryAnswersOptions {
  /** Changes whenever anything a remembered answer shows may have changed. */
  stamp: () => number;
  shuttingDown: () => boolean;
  /** Request ids from the same sequence as Fastify's (its genReqId). */
  nextId: () => string;
  record: (answered: AnsweredFromMemory) => void;
  /** Bounds on what is kept; past either, everything is dropped and relearned. */
  maxAnswers?: number;
  maxBytes?: number;
}

// The stamp when a request arrived: an answer made while the state changed is not kept.
const ARRIVED_AT = Symbol('acihost.memoryStamp');
type Stamped = IncomingMessage & { [ARRIVED_AT]?: number };

const NOT_PUBLIC = /private|no-store/;

export class MemoryAnswers {
  readonly #opts: Required<MemoryAnswersOptions>;
  readonly #answers = new Map<string, Answer>();
  #stamp = Number.NaN;
  #bytes = 0;

  constructor(opts: MemoryAnswersOptions) {
    this.#opts = { maxAnswers: 10_000, maxBytes: 64 * 1024 * 1024, ...opts };
  }

  /** Answers from memory and returns true, or returns false for Fastify to answer. */
  answer(request: IncomingMessage, response: ServerResponse): boolean {
    const stamp = this.#opts.stamp();
    (request as Stamped)[ARRIVED_AT] = stamp;
    if (request.method !== 'GET') return false;
    const h = request.headers;
    if (h.authorization !== undefined || h.range !== undefined || h['if-none-match'] !== undefined) return false;
    if (stamp !== this.#stamp) this.#forget(stamp);
    const answer = this.#answers.get(request.url ?? '');
    if (!answer || this.#opts.shuttingDown()) return false;
    const started = performance.now();
    response.writeHead(200, answer.headers);
    response.end(answer.body);
    // Recorded once the answer is handed to the socket, not on its 'finish': a small
    // answer is written at once, and a listener per request costs more than the write.
    this.#opts.record({
      reqId: this.#opts.nextId(),
      route: answer.route,
      url: request.url!,
      status: 200,
      ms: performance.now() - started,
      request,
    });
    return true;
  }

  /** A route's onSend hook: keeps what it may serve again. */
  readonly remember = (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void) => {
    if (this.#rememberable(request, reply, payload)) {
      const body = payload as Buffer;
      if (this.#answers.size >= this.#opts.maxAnswers || this.#bytes + body.length > this.#opts.maxBytes) this.#forget(this.#stamp);
      const headers = { ...reply.getHeaders(), 'content-length': body.length } as OutgoingHttpHeaders;
      const replaced = this.#answers.get(request.url);
      this.#answers.set(request.url, { headers, body, route: request.routeOptions.url ?? 'unmatched' });
      this.#bytes += body.length - (replaced?.body.length ?? 0);
    }
    done(null, payload);
  };

  #rememberable(request: FastifyRequest, reply: FastifyReply, payload: unknown): boolean {
    const arrived = (request.raw as Stamped)[ARRIVED_AT];
    return (
      arrived === this.#stamp &&
      arrived === this.#opts.stamp() &&
      request.method === 'GET' &&
      reply.statusCode === 200 &&
      Buffer.isBuffer(payload) &&
      request.headers.authorization === undefined &&
      !NOT_PUBLIC.test(String(reply.getHeader('cache-control') ?? ''))
    );
  }

  #forget(stamp: number): void {
    this.#answers.clear();
    this.#bytes = 0;
    this.#stamp = stamp;
  }
}
