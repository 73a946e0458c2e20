/**
 * Failed authentication, limited per client address: after
 * rateLimit.failedAuthAttempts answers of 401 within rateLimit.windowSeconds,
 * further requests from that address that carry credentials are answered 429
 * with Retry-After until the window ends, so tokens cannot be guessed at speed:
 * a right guess is refused too. Successful traffic is never limited: a token that
 * already authenticated from that address keeps working there (one CI job with a
 * bad token must not stop the others behind the same address). Requests without
 * credentials (public downloads, discovery) are never limited either.
 * request.ip honours server.trustProxy, so behind a proxy the client is limited,
 * not the proxy. A route that answers a wrong token with something other than
 * 401 (the acpush completion's 200 with a reason, a page that stays public)
 * counts it with countFailedAuth. Routes whose client reads only a 200 (the acpush
 * completion: config.answersIn200) get the refusal as a 200 with that reason.
 * The workers of one server (src/registry/peers.ts) tell each other every failure and
 * every token newly seen working from an address, so the limit is the server's.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from '../ops/metrics/metrics.ts';
import type { Peers } from '../registry/peers.ts';
import { errorBody } from './error-handler.ts';
import type { CompletionAnswer } from './completion-answer.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The client reads only a 200 JSON {success, reason, server_reason} here: refuse in that shape. */
    answersIn200?: boolean;
    /** A page that stays public: past the limit it is answered as if no credentials came. */
    publicPastLimit?: boolean;
  }
}

// Requests the limit refused with a 200.
const refusedIn200 = new WeakSet<FastifyRequest>();

/** Whether the limit answered this request (with a 200 where the client reads only that). */
export const refusedByLimit = (request: FastifyRequest): boolean => refusedIn200.has(request);

// Requests let through past the limit whose credentials must be ignored.
const limitedViewers = new WeakSet<FastifyRequest>();

/** Whether this request's credentials are to be ignored: its address is past the limit. */
export function ignoreCredentials(request: FastifyRequest): boolean {
  return limitedViewers.has(request);
}

// Requests whose route refused their credentials without answering 401.
const failedWithout401 = new WeakSet<FastifyRequest>();

/** Counts this request as a failed authentication although its answer is not a 401. */
export function countFailedAuth(request: FastifyRequest): void {
  failedWithout401.add(request);
}

interface Window {
  failures: number;
  resetAt: number;
}

// Tokens remembered per address as having worked there; bounded, oldest forgotten first.
const GOOD_TOKENS_PER_ADDRESS = 64;

// Bounds memory under a flood from many addresses: expired windows are dropped past this size.
const PRUNE_AT = 10_000;

export class FailedAuthLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly good = new Map<string, Set<string>>();
  private readonly limit: number;
  private readonly windowMs: number;

  constructor(limit: number, windowSeconds: number) {
    this.limit = limit;
    this.windowMs = windowSeconds * 1000;
  }

  /** Seconds until `address` may try again, or 0. */
  retryAfter(address: string, now = Date.now()): number {
    const w = this.windows.get(address);
    if (!w || w.resetAt <= now || w.failures < this.limit) return 0;
    return Math.ceil((w.resetAt - now) / 1000);
  }

  /** True when the token had not been seen working from this address. */
  recordSuccess(address: string, tokenId: string): boolean {
    let ids = this.good.get(address);
    if (!ids) {
      if (this.good.size >= PRUNE_AT) this.good.clear();
      this.good.set(address, (ids = new Set()));
    }
    const known = ids.delete(tokenId);
    ids.add(tokenId);
    if (ids.size > GOOD_TOKENS_PER_ADDRESS) ids.delete(ids.values().next().value!);
    return !known;
  }

  workedFrom(address: string, tokenId: string): boolean {
    return this.good.get(address)?.has(tokenId) ?? false;
  }

  recordFailure(address: string, now = Date.now()): void {
    let w = this.windows.get(address);
    if (!w || w.resetAt <= now) {
      if (this.windows.size >= PRUNE_AT) this.prune(now);
      w = { failures: 0, resetAt: now + this.windowMs };
      this.windows.set(address, w);
    }
    w.failures++;
  }

  private prune(now: number): void {
    for (const [address, w] of this.windows) if (w.resetAt <= now) this.windows.delete(address);
  }
}

// What the workers tell each other: an address's failure, and a token that worked from an address.
const FAILED = 'auth-failed';
const WORKED = 'auth-worked';

const carriesCredentials = (request: FastifyRequest) => request.headers.authorization !== undefined;

/**
 * Adds the limiter's hooks to the root instance (every route). `validTokenId`
 * answers the id of the presented token when it authenticates, else undefined.
 */
export function limitFailedAuth(
  app: FastifyInstance,
  opts: {
    attempts: number;
    windowSeconds: number;
    metrics: Metrics;
    peers: Peers;
    validTokenId: (request: FastifyRequest) => Promise<string | undefined>;
  },
): void {
  const limiter = new FailedAuthLimiter(opts.attempts, opts.windowSeconds);
  const { peers } = opts;
  peers.hear(FAILED, (address) => limiter.recordFailure(address as string));
  peers.hear(WORKED, (data) => {
    const { address, tokenId } = data as { address: string; tokenId: string };
    limiter.recordSuccess(address, tokenId);
  });
  // The common cases (no credentials, an address without failures) are settled in a
  // callback hook without a promise; only a limited address takes the async path.
  app.addHook('onRequest', (request, reply, done) => {
    const wait = carriesCredentials(request) ? limiter.retryAfter(request.ip) : 0;
    if (wait === 0) return done();
    refuseIfLimited(request, reply, wait).then((refused) => {
      if (!refused) done();
    }, done);
  });

  /** Answers 429 unless the presented token worked from this address before; true when it answered. */
  async function refuseIfLimited(request: FastifyRequest, reply: FastifyReply, wait: number): Promise<boolean> {
    const id = await opts.validTokenId(request);
    if (id && limiter.workedFrom(request.ip, id)) return false;
    if (request.routeOptions.config.publicPastLimit) {
      // rkt sends its auth.d credentials to discovery too: the public page, without the oracle.
      limitedViewers.add(request);
      return false;
    }
    opts.metrics.authFailures.inc({ status: '429' });
    request.log.warn({ ip: request.ip, retryAfter: wait }, 'refused request after too many failed authentications');
    const message = `too many failed authentications from this address; try again in ${wait} s with a valid token`;
    reply.header('retry-after', String(wait)).header('connection', 'close');
    if (request.routeOptions.config.answersIn200) {
      // A refusal, though a 200: it must not mark the token as having worked from here.
      refusedIn200.add(request);
      const answer: CompletionAnswer = { success: false, reason: 'AUTH_RATE_LIMITED', server_reason: `AUTH_RATE_LIMITED: ${message}` };
      reply.status(200).send(answer);
    } else {
      reply.status(429).send(errorBody('AUTH_RATE_LIMITED', message));
    }
    return true;
  }

  app.addHook('onResponse', (request, reply, done) => {
    // Answered by the limit, or with its credentials ignored: nothing learnt about the token.
    if (refusedIn200.has(request) || limitedViewers.has(request)) return done();
    const status = reply.statusCode;
    const failed = status === 401 || failedWithout401.has(request);
    const succeededWithToken = !failed && status < 400 && carriesCredentials(request);
    if (!succeededWithToken && !failed) return done();
    recordOutcome(request, failed, succeededWithToken).then(() => done(), done);
  });

  async function recordOutcome(request: FastifyRequest, failed: boolean, succeededWithToken: boolean): Promise<void> {
    if (succeededWithToken) {
      const id = await opts.validTokenId(request);
      if (id && limiter.recordSuccess(request.ip, id)) peers.tell(WORKED, { address: request.ip, tokenId: id });
    }
    if (!failed) return;
    opts.metrics.authFailures.inc({ status: '401' });
    limiter.recordFailure(request.ip);
    peers.tell(FAILED, request.ip);
  }
}
