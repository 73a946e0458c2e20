/**
 * A worker's side of the supervisor (src/ops/workers/supervisor.ts): its peers, the
 * whole server's metrics, and the word that it is ready.
 */
import { AggregatorRegistry, type Registry as PromRegistry } from 'prom-client';
import type { Peers } from '../../registry/peers.ts';
import { isWorkerMessage, SLOT_VARIABLE, type WorkerMessage } from './messages.ts';

// A scrape the supervisor does not answer in this long fails, as a stalled exporter should.
const SCRAPE_TIMEOUT_MS = 10_000;

export class WorkerLink {
  readonly slot: number;
  readonly peers: Peers;
  private readonly listeners = new Map<string, ((data: unknown) => void)[]>();
  private readonly scrapes = new Map<number, { resolve: (text: string) => void; reject: (e: Error) => void }>();
  private nextScrape = 0;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.slot = Number(env[SLOT_VARIABLE] ?? 0);
    this.peers = {
      tell: (topic, data) => this.send({ acihost: 'peer', topic, data }),
      hear: (topic, listener) => this.listeners.set(topic, [...(this.listeners.get(topic) ?? []), listener]),
      runsUpkeep: this.slot === 0,
    };
    process.on('message', (m: unknown) => {
      if (isWorkerMessage(m)) this.receive(m);
    });
    // Constructing one is what makes prom-client answer the supervisor's requests in a worker: at
    // once, so a scrape while this worker starts gets its (empty) share rather than waiting on it.
    new AggregatorRegistry();
  }

  /** Lets the supervisor collect `registry` from this worker for every scrape. */
  shareMetrics(registry: PromRegistry): void {
    AggregatorRegistry.setRegistries([registry]);
  }

  /** The whole server's metrics in the Prometheus text format: every worker's, aggregated by the supervisor. */
  scrape(): Promise<string> {
    const id = this.nextScrape++;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.scrapes.delete(id);
        reject(new Error('the supervisor did not answer for the metrics'));
      }, SCRAPE_TIMEOUT_MS);
      this.scrapes.set(id, {
        resolve: (text) => (clearTimeout(timer), resolve(text)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.send({ acihost: 'scrape', id });
    });
  }

  ready(): void {
    this.send({ acihost: 'ready' });
  }

  /** Ends the channel to the supervisor, which then sees this worker exit. */
  close(): void {
    if (process.connected) process.disconnect();
  }

  private send(message: WorkerMessage): void {
    // Gone only when the supervisor is: the worker is then shutting down (see serveCommand).
    if (process.connected) process.send!(message);
  }

  private receive(m: WorkerMessage): void {
    if (m.acihost === 'peer') {
      for (const listener of this.listeners.get(m.topic) ?? []) listener(m.data);
    } else if (m.acihost === 'scraped') {
      const pending = this.scrapes.get(m.id);
      this.scrapes.delete(m.id);
      if (m.text !== undefined) pending?.resolve(m.text);
      else pending?.reject(new Error(m.error ?? 'the supervisor failed to collect the metrics'));
    }
  }
}
