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

interface Answer<K> {
  headers: OutgoingHttpHeaders;
  body: Buffer;
  /** What each use is recorded as (the access log's metrics tally and fixed line fields). */
  kind: K;
}

export interface MemoryAnswersOptions<K> {
  /** Changes whenever anything a remembered answer shows may have changed. */
  stamp: () => number;
  shuttingDown: () => boolean;
  /** Request ids from the same sequence as Fastify's (its genReqId). */
  nextId: () => string;
  /** Made once when an answer is kept, from the route pattern that made it and the URL. */
  kindOf: (route: string, url: string) => K;
  /** Records one request answered from memory (access line and metrics). */
  record: (kind: K, request: IncomingMessage, reqId: string, ms: number) => void;
  /** Bounds on what is kept; past either, everything is dropped and relearned. */
  maxAnswers?: number;
  maxBytes?: number;
}

// The stamp when a request arrived: an answer made while the state changed is not kept.
const ARRIVED_AT = Symbol('acihost.memoryStamp');
type Stamped = IncomingMessage & { [ARRIVED_AT]?: number };

const NOT_PUBLIC = /private|no-store/;

export class MemoryAnswers<K = unknown> {
  readonly #opts: Required<MemoryAnswersOptions<K>>;
  readonly #answers = new Map<string, Answer<K>>();
  #stamp = Number.NaN;
  #bytes = 0;

  constructor(opts: MemoryAnswersOptions<K>) {
    this.#opts = { maxAnswers: 10_000, maxBytes: 64 * 1024 * 1024, ...opts };
  }

  /** Answers from memory and returns true, or returns false for Fastify to answer. */
  answer(request: IncomingMessage, response: ServerResponse): boolean {
    const stamp = this.#opts.stamp();
    if (stamp !== this.#stamp) this.#forget(stamp);
    const h = request.headers;
    const answer =
      request.method === 'GET' && h.authorization === undefined && h.range === undefined && h['if-none-match'] === undefined
        ? this.#answers.get(request.url!)
        : undefined;
    if (!answer || this.#opts.shuttingDown()) {
      (request as Stamped)[ARRIVED_AT] = stamp;
      return false;
    }
    const started = performance.now();
    response.writeHead(200, answer.headers);
    response.end(answer.body);
    // Recorded once the answer is handed to the socket, not on its 'finish': a small
    // answer is written at once, and a listener per request costs more than the write.
    this.#opts.record(answer.kind, request, this.#opts.nextId(), performance.now() - started);
    return true;
  }

  /** A route's onSend hook: keeps what it may serve again. */
  readonly remember = (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void) => {
    if (this.#rememberable(request, reply, payload)) {
      const body = payload as Buffer;
      if (this.#answers.size >= this.#opts.maxAnswers || this.#bytes + body.length > this.#opts.maxBytes) this.#forget(this.#stamp);
      const headers = { ...reply.getHeaders(), 'content-length': body.length } as OutgoingHttpHeaders;
      const replaced = this.#answers.get(request.url);
      this.#answers.set(request.url, { headers, body, kind: this.#opts.kindOf(request.routeOptions.url ?? 'unmatched', request.url) });
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

/** What a route that opts in needs: the onSend hook. */
export type Remembers = Pick<MemoryAnswers, 'remember'>;
