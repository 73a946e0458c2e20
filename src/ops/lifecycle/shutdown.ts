/**
 * Graceful shutdown on SIGTERM/SIGINT, in three steps:
 * 1. readiness answers 503 for server.shutdownDelaySeconds while the listener
 *    still accepts, so load balancers take the instance out of rotation first
 *    (on SIGTERM, what they and orchestrators send; Ctrl-C's SIGINT skips the wait);
 * 2. the listener closes and requests in flight get server.shutdownGraceSeconds
 *    to finish (idle keep-alive connections are closed at once);
 * 3. connections still open are cut; their handlers clean up (an upload cut off
 *    leaves no staged part) and the caller exits 0.
 * A second signal skips the waiting.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { InFlight } from './in-flight.ts';
import type { ServerState } from './server-state.ts';

export interface ShutdownTarget {
  app: FastifyInstance;
  state: ServerState;
  inFlight: InFlight;
  /** Everything after the listener: the plain-HTTP listener, TLS watchers, the registry. */
  closeRest(): Promise<void>;
}

// How long cut-off handlers get to clean up after their connections were closed.
export const CLEANUP_MS = 5000;

export class Shutdown {
  private hurry: (() => void) | undefined;
  private running: Promise<void> | undefined;

  /** Starts the shutdown, or on a second call cuts its waiting short. */
  run(target: ShutdownTarget, opts: { delaySeconds: number; graceSeconds: number }, log: Logger): Promise<void> {
    if (this.running) {
      log.warn('second shutdown signal: closing connections now');
      this.hurry?.();
      return this.running;
    }
    this.running = this.steps(target, opts, log);
    return this.running;
  }

  private async steps(target: ShutdownTarget, opts: { delaySeconds: number; graceSeconds: number }, log: Logger): Promise<void> {
    const { app, state, inFlight } = target;
    state.beginShutdown();
    log.info({ delaySeconds: opts.delaySeconds, graceSeconds: opts.graceSeconds }, 'shutting down: readiness now fails');
    await this.wait(opts.delaySeconds * 1000);
    log.info({ inFlight: inFlight.size }, 'shutting down: listener closed, waiting for requests in flight');
    const closed = app.close();
    const finished = await Promise.race([closed.then(() => true), this.wait(opts.graceSeconds * 1000).then(() => false)]);
    this.hurry?.(); // ends the grace timer when the requests finished first, so nothing holds the process open
    if (!finished) {
      log.warn({ inFlight: inFlight.size }, 'shutting down: grace period over, closing the remaining connections');
      app.server.closeAllConnections();
      await inFlight.drained(CLEANUP_MS);
      await closed;
    }
    await target.closeRest();
    log.info('shut down');
  }

  // Resolves after `ms`, or at once when a second signal arrives.
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.hurry = () => (clearTimeout(timer), resolve());
    });
  }
}
