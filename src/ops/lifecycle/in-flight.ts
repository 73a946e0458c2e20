/**
 * Requests whose handler has not answered yet. A shutdown that had to cut
 * connections waits for these, so an aborted upload's handler finishes its
 * clean-up (removing the staged part) before the process exits.
 */
import type { FastifyInstance } from 'fastify';

export class InFlight {
  private readonly ids = new Set<string>();
  private waiters: (() => void)[] = [];

  get size(): number {
    return this.ids.size;
  }

  track(app: FastifyInstance): void {
    // Callback hooks, not async ones: they run on every request, and a promise per call costs.
    app.addHook('onRequest', (request, _reply, next) => {
      this.ids.add(request.id);
      next();
    });
    // onSend runs once the handler (or the error handler, after a route's clean-up) has an answer.
    app.addHook('onSend', (request, _reply, payload, next) => {
      this.done(request.id);
      next(null, payload);
    });
    app.addHook('onResponse', (request, _reply, next) => {
      this.done(request.id);
      next();
    });
  }

  /** Resolves when no handler is running, or after `timeoutMs`; true when drained. */
  async drained(timeoutMs: number): Promise<boolean> {
    if (this.ids.size === 0) return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiters.push(() => (clearTimeout(timer), resolve(true)));
    });
  }

  private done(id: string): void {
    if (!this.ids.delete(id) || this.ids.size > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
