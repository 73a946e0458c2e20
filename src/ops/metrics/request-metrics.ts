/**
 * The HTTP request metrics: requests by method, route and status, their latency
 * histogram, and bytes each way by route. The counters are tallied per (method,
 * route, status) in plain numbers, found with three Map lookups (or none: an
 * answer from memory keeps its tally), and become Prometheus series when scraped.
 * prom-client's own inc() and observe() build and hash a label string on every
 * call, and four of them per request cost the discovery answers a measurable share
 * of their throughput (docs/benchmarks.md#access-log-and-metrics).
 */
import { Counter, type Aggregator, type Histogram, type MetricValueWithName, type Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The counts of one (method, route, status); updated in place on every request. */
export class RequestTally {
  readonly labels: { method: string; route: string; status: string };
  count = 0;
  sent = 0;
  received = 0;
  seconds = 0;
  /** Requests per latency bucket (not cumulative); the last one is +Inf. */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);

  constructor(method: string, route: string, status: number) {
    this.labels = { method, route, status: String(status) };
  }
}

type LatencyLabel = 'method' | 'route' | 'le';

/**
 * The latency histogram, made from the tallies when scraped. prom-client's metric
 * classes offer no way to set a histogram's buckets, so this is a metric of its
 * own: what prom-client's Registry asks of one (name, help, type, aggregator,
 * get, reset), producing the values its Histogram would.
 */
class TalliedHistogram {
  readonly name = 'acihost_http_request_duration_seconds';
  readonly help = 'Time from request start to the last byte of the response, by method and route';
  readonly type = 'histogram';
  readonly aggregator: Aggregator = 'sum';
  readonly #tallies: readonly RequestTally[];

  constructor(registry: Registry, tallies: readonly RequestTally[]) {
    this.#tallies = tallies;
    registry.registerMetric(this as unknown as Histogram);
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: Aggregator; values: MetricValueWithName<LatencyLabel>[] }> {
    // Tallies differ by status; the histogram's series by method and route only.
    const series = new Map<string, { method: string; route: string; buckets: Float64Array; seconds: number; count: number }>();
    for (const t of this.#tallies) {
      const { method, route } = t.labels;
      const key = `${method} ${route}`;
      let s = series.get(key);
      if (!s) series.set(key, (s = { method, route, buckets: new Float64Array(t.buckets.length), seconds: 0, count: 0 }));
      t.buckets.forEach((n, i) => (s.buckets[i]! += n));
      s.seconds += t.seconds;
      s.count += t.count;
    }
    const values: MetricValueWithName<LatencyLabel>[] = [];
    for (const { method, route, buckets, seconds, count } of series.values()) {
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += buckets[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, method, route }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', method, route }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels: { method, route }, value: seconds });
      values.push({ metricName: `${this.name}_count`, labels: { method, route }, value: count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Nothing to reset: the tallies are the counts themselves, and the counters read them too. */
  reset(): void {}
}

export class RequestMetrics {
  readonly #tallies: RequestTally[] = [];
  readonly #byRoute = new Map<string, Map<string, Map<number, RequestTally>>>();
  /** Requests answered from memory (src/http/memory-answers.ts), counted in the tallies too. */
  fromMemory = 0;

  constructor(registry: Registry) {
    const tallies = this.#tallies;
    // A counter made from sums over the tallies at each scrape.
    const summed = <L extends 'method' | 'route' | 'status'>(
      name: string,
      help: string,
      labelNames: L[],
      value: (t: RequestTally) => number,
    ) =>
      new Counter<L>({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          this.reset();
          for (const t of tallies) this.inc(Object.fromEntries(labelNames.map((l) => [l, t.labels[l]])) as Record<L, string>, value(t));
        },
      });
    summed(
      'acihost_http_requests_total',
      'HTTP requests answered, by method, route (the route pattern, not the path) and status',
      ['method', 'route', 'status'],
      (t) => t.count,
    );
    new TalliedHistogram(registry, tallies);
    summed('acihost_http_sent_bytes_total', 'Bytes sent in responses (headers and bodies), by route', ['route'], (t) => t.sent);
    summed('acihost_http_received_bytes_total', 'Bytes received in requests (headers and bodies), by route', ['route'], (t) => t.received);
    const self = this;
    new Counter({
      name: 'acihost_http_memory_answers_total',
      help: 'Requests answered from memory before routing (repeated anonymous GETs of pages, signatures and keys); counted in acihost_http_requests_total too',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(self.fromMemory);
      },
    });
  }

  /** The tally of one (method, route, status), made on first use. */
  tally(method: string, route: string, status: number): RequestTally {
    let byMethod = this.#byRoute.get(route);
    if (!byMethod) this.#byRoute.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let t = byStatus.get(status);
    if (!t) {
      byStatus.set(status, (t = new RequestTally(method, route, status)));
      this.#tallies.push(t);
    }
    return t;
  }

  /** Counts one answered request. */
  add(t: RequestTally, seconds: number, sent: number, received: number): void {
    t.count++;
    t.sent += sent;
    t.received += received;
    t.seconds += seconds;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    t.buckets[i]!++;
  }
}
