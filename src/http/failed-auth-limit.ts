/**
 * Failed authentication, limited per client address: after
 * rateLimit.failedAuthAttempts answers of 401 within rateLimit.windowSeconds,
 * further requests from that address that carry credentials are answered 429
 * with Retry-After until the window ends, before their token is even looked at,
 * so tokens cannot be guessed at speed. Requests without credentials (public
 * downloads, discovery) and addresses without failures are never limited.
 * request.ip honours server.trustProxy, so behind a proxy the client is limited,
 * not the proxy.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Metrics } from '../ops/metrics.ts';
import { errorBody } from './error-handler.ts';

interface Window {
  failures: number;
  resetAt: number;
}

// Bounds memory under a flood from many addresses: expired windows are dropped past this size.
const PRUNE_AT = 10_000;

export class FailedAuthLimiter {
  private readonly windows = new Map<string, Window>();
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

/** Adds the limiter's hooks to the root instance (every route). */
export function limitFailedAuth(app: FastifyInstance, opts: { attempts: number; windowSeconds: number; metrics: Metrics }): void {
  const limiter = new FailedAuthLimiter(opts.attempts, opts.windowSeconds);
  app.addHook('onRequest', async (request, reply) => {
    if (!carriesCredentials(request)) return;
    const wait = limiter.retryAfter(request.ip);
    if (wait === 0) return;
    opts.metrics.authFailures.inc({ status: '429' });
    request.log.warn({ ip: request.ip, retryAfter: wait }, 'refused request after too many failed authentications');
    return reply
      .status(429)
      .header('retry-after', String(wait))
      .header('connection', 'close')
      .send(errorBody('AUTH_RATE_LIMITED', `too many failed authentications from this address; try again in ${wait} s with a valid token`));
  });
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode !== 401) return;
    opts.metrics.authFailures.inc({ status: '401' });
    limiter.recordFailure(request.ip);
  });
}
