/**
 * What the health and metrics endpoints report about the process itself: the
 * metrics, the served certificate (none with TLS off) and whether a shutdown
 * has begun. src/server.ts owns it; the app only reads it.
 */
import type { ServedCertificate } from '../../tls/served-certificate.ts';
import { Metrics } from '../metrics/metrics.ts';

export class ServerState {
  readonly metrics: Metrics;
  /** Undefined when TLS is off (a proxy in front terminates it). */
  readonly certificate: ServedCertificate | undefined;
  /** The whole server's metrics as text: this process's, or with workers every worker's (src/ops/workers/). */
  readonly scrape: () => Promise<string>;
  private shutdownStarted = false;

  constructor(opts: { metrics?: Metrics; certificate?: ServedCertificate; scrape?: () => Promise<string> } = {}) {
    const metrics = (this.metrics = opts.metrics ?? new Metrics());
    this.certificate = opts.certificate;
    this.scrape = opts.scrape ?? (() => metrics.registry.metrics());
  }

  get shuttingDown(): boolean {
    return this.shutdownStarted;
  }

  beginShutdown(): void {
    this.shutdownStarted = true;
  }
}
