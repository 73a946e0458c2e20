/**
 * The supervisor of `server.workers` processes (node:cluster's primary). Each worker
 * runs the same entry point as a whole server on the shared storage; the cluster hands
 * them the connections of the one port. The supervisor serves nothing itself: it starts
 * the workers (slot 0 first, alone, so one process makes the development CA and the
 * storage layout), starts another in the slot of one that dies, passes what workers
 * tell each other (src/ops/workers/worker-link.ts), sums their metrics for a scrape,
 * forwards SIGHUP, SIGTERM and SIGINT, and exits once every worker has.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry } from 'prom-client';
import type { Logger } from 'pino';
import { isWorkerMessage, SLOT_VARIABLE, type WorkerMessage } from './messages.ts';

/** The workers `server.workers` asks for: null is one per core this process may run on (taskset counts). */
export const workerCount = (configured: number | null): number => configured ?? availableParallelism();

// A slot whose workers die before they are ready this many times running is given up, and the server with it.
const START_FAILURES_ALLOWED = 5;
const RESTART_DELAY_MS = 250;

type Signal = 'SIGTERM' | 'SIGINT';

interface Slot {
  worker: Worker;
  ready: boolean;
}

export class Supervisor {
  private readonly count: number;
  private readonly log: Logger;
  private readonly slots = new Map<number, Slot>();
  /** Per slot: workers that died before they were ready, since the last that was. */
  private readonly startFailures = new Map<number, number>();
  private readonly aggregator = new AggregatorRegistry();
  private stopping: Signal | undefined;
  private everReady = false;
  /** Non-zero once the server is failing: a worker that failed to start, or one that failed to drain. */
  private exitCode = 0;
  private resolveExit!: (code: number) => void;
  private readonly exited = new Promise<number>((resolve) => (this.resolveExit = resolve));

  constructor(count: number, log: Logger) {
    this.count = count;
    this.log = log.child({ component: 'supervisor' });
  }

  /** Runs the workers until a signal stops them; resolves with the exit code. */
  async run(): Promise<number> {
    const onSignal = (signal: Signal) => this.stop(signal);
    const onHup = () => this.forward('SIGHUP');
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal).on('SIGHUP', onHup);
    cluster.on('message', (worker, m: unknown) => {
      if (isWorkerMessage(m)) this.receive(worker, m);
    });
    cluster.on('exit', (worker, code, signal) => this.exitedWorker(worker, code, signal));
    try {
      // The first worker alone: it may make the development CA and the storage layout, and a
      // setting that stops it (a port in use, a bad certificate) stops the server at once.
      if (await this.startSlot(0)) {
        const rest = await Promise.all(Array.from({ length: this.count - 1 }, (_, i) => this.startSlot(i + 1)));
        if (rest.every(Boolean)) this.log.info({ workers: this.count }, 'every worker is serving');
      }
      return await this.exited;
    } finally {
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal).off('SIGHUP', onHup);
    }
  }

  /** Starts a worker in `slot`; true once it is ready, false if it died first. */
  private startSlot(slot: number): Promise<boolean> {
    const worker = cluster.fork({ [SLOT_VARIABLE]: String(slot) });
    this.slots.set(slot, { worker, ready: false });
    return new Promise<boolean>((resolve) => {
      const onMessage = (m: unknown) => {
        if (isWorkerMessage(m) && m.acihost === 'ready') done(true);
      };
      const onExit = () => done(false);
      const done = (ready: boolean) => {
        worker.off('message', onMessage).off('exit', onExit);
        resolve(ready);
      };
      worker.on('message', onMessage).on('exit', onExit);
    });
  }

  private receive(from: Worker, m: WorkerMessage): void {
    if (m.acihost === 'ready') {
      const entry = this.entryOf(from);
      if (entry) {
        entry[1].ready = true;
        this.startFailures.delete(entry[0]);
        this.everReady = true;
      }
    } else if (m.acihost === 'peer') {
      for (const { worker } of this.slots.values()) if (worker !== from && worker.isConnected()) worker.send(m);
    } else if (m.acihost === 'scrape') {
      this.aggregator.clusterMetrics().then(
        (text) => from.isConnected() && from.send({ acihost: 'scraped', id: m.id, text }),
        (err: Error) => from.isConnected() && from.send({ acihost: 'scraped', id: m.id, error: err.message }),
      );
    }
  }

  private entryOf(worker: Worker): [number, Slot] | undefined {
    return [...this.slots].find(([, s]) => s.worker === worker);
  }

  private exitedWorker(worker: Worker, code: number | null, signal: string | null): void {
    const entry = this.entryOf(worker);
    if (!entry) return;
    const [n, slot] = entry;
    this.slots.delete(n);
    if (this.stopping) {
      if (code !== 0) this.exitCode ||= 1;
      if (this.slots.size === 0) this.resolveExit(this.exitCode);
      return;
    }
    if (!this.everReady) {
      // The server never started: the worker said why (a port in use, a certificate); its code is the server's.
      this.exitCode = code || 1;
      this.stop('SIGTERM');
      return;
    }
    const failures = slot.ready ? 0 : (this.startFailures.get(n) ?? 0) + 1;
    if (failures >= START_FAILURES_ALLOWED) {
      this.log.error({ slot: n, code, signal, failures }, 'workers keep dying at start; stopping the server');
      process.stderr.write(`acihost: workers keep dying at start (${failures} times running); stopping\n`);
      this.exitCode = 1;
      this.stop('SIGTERM');
      return;
    }
    this.startFailures.set(n, failures);
    this.log.error({ slot: n, pid: worker.process.pid, code, signal }, 'worker exited; starting another in its place');
    // A worker that keeps dying at start is retried ever more slowly, not in a tight loop.
    setTimeout(
      () => {
        if (!this.stopping) void this.startSlot(n);
      },
      RESTART_DELAY_MS * (2 ** failures - 1),
    );
  }

  /** Passes `signal` to every worker; each drains (src/ops/lifecycle/shutdown.ts) and exits. */
  private stop(signal: Signal): void {
    if (this.stopping) return;
    this.stopping = signal;
    if (this.slots.size === 0) return this.resolveExit(this.exitCode);
    this.log.info({ signal, workers: this.slots.size }, 'stopping every worker');
    this.forward(signal);
  }

  private forward(signal: NodeJS.Signals): void {
    for (const { worker } of this.slots.values()) worker.process.kill(signal);
  }
}
