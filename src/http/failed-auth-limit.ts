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
 * not the proxy.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from '../ops/metrics.ts';
import { errorBody } from './error-handler.ts';

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

  recordSuccess(address: string, tokenId: string): void {
    let ids = this.good.get(address);
    if (!ids) {
      if (this.good.size >= PRUNE_AT) this.good.clear();
      this.good.set(address, (ids = new Set()));
    }
    ids.delete(tokenId);
    ids.add(tokenId);
    if (ids.size > GOOD_TOKENS_PER_ADDRESS) ids.delete(ids.values().next().value!);
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
    validTokenId: (request: FastifyRequest) => Promise<string | undefined>;
  },
): void {
  const limiter = new FailedAuthLimiter(opts.attempts, opts.windowSeconds);
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
    opts.metrics.authFailures.inc({ status: '429' });
    request.log.warn({ ip: request.ip, retryAfter: wait }, 'refused request after too many failed authentications');
    reply
      .status(429)
      .header('retry-after', String(wait))
      .header('connection', 'close')
      .send(errorBody('AUTH_RATE_LIMITED', `too many failed authentications from this address; try again in ${wait} s with a valid token`));
    return true;
  }

  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const succeededWithToken = status < 400 && carriesCredentials(request);
    if (!succeededWithToken && status !== 401) return done();
    recordOutcome(request, status, succeededWithToken).then(() => done(), done);
  });

  async function recordOutcome(request: FastifyRequest, status: number, succeededWithToken: boolean): Promise<void> {
    if (succeededWithToken) {
      const id = await opts.validTokenId(request);
      if (id) limiter.recordSuccess(request.ip, id);
    }
    if (status !== 401) return;
    opts.metrics.authFailures.inc({ status: '401' });
    limiter.recordFailure(request.ip);
  }
}
