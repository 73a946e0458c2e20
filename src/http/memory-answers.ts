/**
 * Answers repeated anonymous GETs of discovery pages, signatures and keys from
 * memory, before Fastify sees the request. These are what rkt and build farms ask
 * for most, the answers are small and change only when the catalogue or the keys
 * do; yet routing, hooks, a request logger and reply objects cost Fastify far
 * more than writing the answer does.
 *
 * A route opts in with `onSend: answers.remember` (or `rememberAs` when a query
 * parameter shapes the answer); a 200 it sends to a GET without credentials,
 * public by its Cache-Control, is kept with its headers and served again byte for
 * byte, with the same access line and metrics. Answers are found by the URL's
 * normalised key (answer-key.ts), and kept only when that key is the one the
 * route names for what it answered, so neither junk in the query nor a page past
 * the last one makes an entry. Memory is bounded in bytes, the least recently
 * used answers dropped first, and everything is dropped when the catalogue or the
 * keys change (the generations the page cache watches). Credentials, conditional
 * and range requests, other methods and a shutdown in progress all go through
 * Fastify as before.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ByteLru, type CacheUse } from '../util/byte-lru.ts';
import { answerKey, pathOf } from './answer-key.ts';

interface Answer<K> {
  headers: OutgoingHttpHeaders;
  /**
   * The body's bytes as a latin1 string, which maps each byte to one character and back:
   * Node sends a string body in one write with the header, a Buffer in a second one.
   */
  body: string;
  /** The text of the header names and values, counted towards the bound. */
  headerBytes: number;
  /** What each use of this URL is recorded as (the access log's metrics tally and fixed line fields). */
  kind: K;
  url: string;
  /** The route pattern, to record a use under another URL of the same key. */
  route: string;
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
  /** Bytes kept at most (bodies, headers, keys); the least recently used answers make room. */
  maxBytes: number;
}

// An entry's cost besides its body, headers and key: the entry, its header object and its map slot.
const ENTRY_OVERHEAD = 256;

// The stamp when a request arrived: an answer made while the state changed is not kept.
const ARRIVED_AT = Symbol('acihost.memoryStamp');
type Stamped = IncomingMessage & { [ARRIVED_AT]?: number };

const NOT_PUBLIC = /private|no-store/;

export class MemoryAnswers<K = unknown> {
  readonly #opts: MemoryAnswersOptions<K>;
  readonly #answers: ByteLru<string, Answer<K>>;
  #stamp = Number.NaN;

  constructor(opts: MemoryAnswersOptions<K>) {
    this.#opts = opts;
    this.#answers = new ByteLru(opts.maxBytes, (a, key) => a.body.length + a.headerBytes + key.length + ENTRY_OVERHEAD);
  }

  /** What is kept, for the metrics. */
  get use(): CacheUse {
    return this.#answers;
  }

  /** Answers from memory and returns true, or returns false for Fastify to answer. */
  answer(request: IncomingMessage, response: ServerResponse): boolean {
    const stamp = this.#opts.stamp();
    if (stamp !== this.#stamp) this.#forget(stamp);
    const h = request.headers;
    const key =
      request.method === 'GET' && h.authorization === undefined && h.range === undefined && h['if-none-match'] === undefined
        ? answerKey(request.url!)
        : undefined;
    const answer = key === undefined ? undefined : this.#answers.get(key);
    if (!answer || this.#opts.shuttingDown()) {
      (request as Stamped)[ARRIVED_AT] = stamp;
      return false;
    }
    const started = performance.now();
    response.writeHead(200, answer.headers);
    response.end(answer.body, 'latin1');
    // Recorded once the answer is handed to the socket, not on its 'finish': a small
    // answer is written at once, and a listener per request costs more than the write.
    // Another URL of the same key is logged as it was asked for.
    const kind = request.url === answer.url ? answer.kind : this.#opts.kindOf(answer.route, request.url!);
    this.#opts.record(kind, request, this.#opts.nextId(), performance.now() - started);
    return true;
  }

  /** A route's onSend hook for answers that depend on the path alone: keeps what it may serve again. */
  readonly remember = this.rememberAs((request) => pathOf(request.url));

  /**
   * An onSend hook keeping an answer under `keyOf(request)`, the key of what the
   * route answered (undefined: not kept), when it is the key the request's URL
   * has: an answer stands in only for URLs that ask for exactly it.
   */
  rememberAs(keyOf: (request: FastifyRequest) => string | undefined): RememberHook {
    return (request, reply, payload, done) => {
      const key = this.#rememberable(request, reply, payload) ? keyOf(request) : undefined;
      if (key !== undefined && key === answerKey(request.url)) {
        const bytes = payload as Buffer;
        const headers = { ...reply.getHeaders(), 'content-length': bytes.length } as OutgoingHttpHeaders;
        const body = bytes.toString('latin1');
        let headerBytes = 0;
        for (const [name, value] of Object.entries(headers)) headerBytes += name.length + String(value).length;
        const route = request.routeOptions.url ?? 'unmatched';
        const kind = this.#opts.kindOf(route, request.url);
        this.#answers.set(key, { headers, body, headerBytes, kind, url: request.url, route });
      }
      done(null, payload);
    };
  }

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
    this.#stamp = stamp;
  }
}

type RememberHook = (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void) => void;

/** What a route that opts in needs: the onSend hooks. */
export type Remembers = Pick<MemoryAnswers, 'remember' | 'rememberAs'>;
