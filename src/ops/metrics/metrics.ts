/**
 * Every Prometheus metric acihost exports, on a registry of its own (not
 * prom-client's global one), so two servers in one process (the tests) keep
 * separate counts. Names follow the Prometheus conventions: base units
 * (seconds, bytes), `_total` for counters. With several workers each keeps its own,
 * and a scrape sums them (src/ops/workers/supervisor.ts); a gauge of what the workers
 * share (the index, a quota, the certificate) says how it is combined instead.
 */
import { Counter, Gauge, Histogram, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';
import type { CacheUse } from '../../util/byte-lru.ts';
import type { StorageMeter } from '../../storage/metered-storage.ts';
import type { VerifyRunSummary } from '../../registry/upkeep/scheduled-verify.ts';
import type { QuotaUse } from '../../registry/quota/quotas.ts';
import type { RetentionRunSummary } from '../../registry/upkeep/retention.ts';
import type { AttemptReport } from '../../registry/webhooks/webhooks.ts';
import { RequestMetrics } from './request-metrics.ts';

/** What the gauges of the server's state read at each scrape, whichever worker is asked. */
export interface ScrapeSource {
  indexVersions(): number;
  uploadSessions(): number;
  tokensExpiring(): number;
  quotas(): QuotaUse[];
  /** The served certificate, with TLS on. */
  certificate?(): { notAfterSeconds: number | undefined; valid: boolean };
}

const STORAGE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

export class Metrics {
  readonly registry = new PromRegistry();
  /** Requests, their latency and bytes each way (src/ops/metrics/request-metrics.ts). */
  readonly http = new RequestMetrics(this.registry);
  readonly pushes = new Counter({
    name: 'acihost_pushes_total',
    help: 'Pushes (curl, acpush and import) by result (created, unchanged, refused, failed) and error code ("" when none)',
    labelNames: ['result', 'code'],
    registers: [this.registry],
  });
  readonly signatureFailures = new Counter({
    name: 'acihost_signature_failures_total',
    help: 'Pushes refused because of their signature, by error code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'acihost_auth_failures_total',
    help: 'Requests answered 401, and requests refused with 429 after too many failures',
    labelNames: ['status'],
    registers: [this.registry],
  });
  readonly storageLatency = new Histogram({
    name: 'acihost_storage_operation_duration_seconds',
    help: 'Storage operation time, by operation (for read: until the stream is open)',
    labelNames: ['operation'],
    buckets: STORAGE_BUCKETS,
    registers: [this.registry],
  });
  readonly storageErrors = new Counter({
    name: 'acihost_storage_errors_total',
    help: 'Storage operations that failed (an absent key is not a failure), by operation',
    labelNames: ['operation'],
    registers: [this.registry],
  });
  readonly uploadSessions = new Gauge({
    name: 'acihost_upload_sessions_open',
    help: 'acpush upload sessions in storage (started, not yet completed or swept)',
    // Counted by the upload service and the sweep: a scrape never lists the sessions.
    collect: () => {
      if (this.#source) this.uploadSessions.set(this.#source.uploadSessions());
    },
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly indexVersions = new Gauge({
    name: 'acihost_index_versions',
    help: 'Published versions (name, version, os, arch) in the in-memory index',
    collect: () => {
      if (this.#source) this.indexVersions.set(this.#source.indexVersions());
    },
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly certificateExpiry = new Gauge({
    name: 'acihost_certificate_expiry_timestamp_seconds',
    help: 'When the served TLS certificate expires (Unix time); absent with TLS off',
    collect: () => {
      const at = this.#source?.certificate?.().notAfterSeconds;
      if (at !== undefined) this.certificateExpiry.set(at);
    },
    aggregator: 'min',
    registers: [this.registry],
  });
  readonly certificateValid = new Gauge({
    name: 'acihost_certificate_valid',
    help: '1 while a real certificate within its validity is served, 0 otherwise (for example while ACME orders the first one)',
    collect: () => {
      const served = this.#source?.certificate?.();
      if (served) this.certificateValid.set(served.valid ? 1 : 0);
    },
    aggregator: 'min',
    registers: [this.registry],
  });
  // The last scheduled `acihost verify` run (src/registry/upkeep/scheduled-verify.ts); 0 until one has finished (see the timestamp).
  readonly verifyImages = new Gauge({
    name: 'acihost_verify_images',
    help: 'Published versions the last scheduled verification checked',
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly verifyFailedImages = new Gauge({
    name: 'acihost_verify_failed_images',
    help: 'Published versions with at least one problem in the last scheduled verification',
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly verifyProblems = new Gauge({
    name: 'acihost_verify_problems',
    help: 'Problems found by the last scheduled verification, by code (IMAGE_DIGEST_MISMATCH, SIGNATURE_MISMATCH, ...)',
    labelNames: ['code'],
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly verifyDuration = new Gauge({
    name: 'acihost_verify_duration_seconds',
    help: 'How long the last scheduled verification took',
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly verifyLastRun = new Gauge({
    name: 'acihost_verify_last_run_timestamp_seconds',
    help: 'When the last scheduled verification finished (Unix time)',
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly tokensExpiring = new Gauge({
    name: 'acihost_tokens_expiring',
    help: 'Tokens that expire within 14 days (made to last longer than that, not yet expired); each is audited once as token.expiring',
    // From the polled token records: a scrape reads no storage.
    collect: () => {
      if (this.#source) this.tokensExpiring.set(this.#source.tokensExpiring());
    },
    aggregator: 'max',
    registers: [this.registry],
  });
  // Webhook deliveries (src/registry/webhooks/), counted by the replica that made each attempt.
  readonly webhookAttempts = new Counter({
    name: 'acihost_webhook_attempts_total',
    help: 'Webhook delivery attempts by outcome (delivered, http_error, timeout, connection_failed, target_refused, lost: taken over after its lease)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly webhookDeliveries = new Counter({
    name: 'acihost_webhook_deliveries_total',
    help: 'Webhook deliveries finished, by result (delivered, failed: given up after webhooks.retryForSeconds)',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly webhookDelay = new Histogram({
    name: 'acihost_webhook_delivery_delay_seconds',
    help: 'From an event to its delivery, retries included',
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400],
    registers: [this.registry],
  });

  // Each quota and what is published under its prefix, set at each scrape by the first of the
  // four (collected in the order registered); a limit not set has no series.
  readonly quotaBytesUsed = this.quotaGauge(
    'acihost_quota_bytes_used',
    'Bytes of .aci files published at or below each quota prefix',
    () => {
      if (this.#source) this.recordQuotas(this.#source.quotas());
    },
  );
  readonly quotaBytesLimit = this.quotaGauge('acihost_quota_bytes_limit', 'The most bytes each quota allows at or below its prefix');
  readonly quotaVersionsUsed = this.quotaGauge('acihost_quota_versions_used', 'Versions published at or below each quota prefix');
  readonly quotaVersionsLimit = this.quotaGauge(
    'acihost_quota_versions_limit',
    'The most versions each quota allows at or below its prefix',
  );
  // Scheduled retention runs this server did (src/registry/upkeep/retention.ts); another replica's runs count there.
  readonly retentionRemoved = new Counter({
    name: 'acihost_retention_removed_versions_total',
    help: 'Versions removed by the scheduled retention runs of this server',
    registers: [this.registry],
  });
  readonly retentionFreed = new Counter({
    name: 'acihost_retention_freed_bytes_total',
    help: 'Bytes of the versions removed by the scheduled retention runs of this server',
    registers: [this.registry],
  });
  readonly retentionFailed = new Counter({
    name: 'acihost_retention_failed_removals_total',
    help: 'Removals planned by the scheduled retention runs of this server that failed (the next run tries again)',
    registers: [this.registry],
  });
  readonly retentionLastRun = new Gauge({
    name: 'acihost_retention_last_run_timestamp_seconds',
    help: 'When the last scheduled retention run of this server finished (Unix time)',
    aggregator: 'max',
    registers: [this.registry],
  });

  #source: ScrapeSource | undefined;

  /** The gauges of the server's state read `source` at each scrape from now on. */
  readFrom(source: ScrapeSource): void {
    this.#source = source;
  }

  // The in-memory caches of answers, by name, read at each scrape.
  readonly #caches: Record<string, CacheUse> = {};
  readonly answerCacheBytes = new Gauge({
    name: 'acihost_answer_cache_bytes',
    help: 'Bytes held by each in-memory cache of answers (pages: rendered discovery pages; answers: those given before routing)',
    labelNames: ['cache'],
    registers: [this.registry],
    collect: () => {
      for (const [cache, use] of Object.entries(this.#caches)) this.answerCacheBytes.set({ cache }, use.bytes);
    },
  });
  readonly answerCacheEntries = new Gauge({
    name: 'acihost_answer_cache_entries',
    help: 'Entries in each in-memory cache of answers',
    labelNames: ['cache'],
    registers: [this.registry],
    collect: () => {
      for (const [cache, use] of Object.entries(this.#caches)) this.answerCacheEntries.set({ cache }, use.size);
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'acihost_' });
    // Gauges that prom-client names like counters, which Prometheus tooling refuses; the same
    // counts stay available per type as acihost_nodejs_active_{handles,requests,resources}.
    for (const name of ['handles', 'requests', 'resources']) this.registry.removeSingleMetric(`acihost_nodejs_active_${name}_total`);
  }

  /** Storage operations timed and their failures counted (src/storage/metered-storage.ts). */
  readonly storageMeter: StorageMeter = {
    start: (operation) => this.storageLatency.startTimer({ operation }),
    failed: (operation) => this.storageErrors.inc({ operation }),
  };

  /** The last scheduled verification's counts. */
  recordVerifyRun(s: VerifyRunSummary): void {
    this.verifyImages.set(s.checked);
    this.verifyFailedImages.set(s.failedImages);
    this.verifyProblems.reset();
    for (const [code, n] of Object.entries(s.problems)) this.verifyProblems.set({ code }, n);
    this.verifyDuration.set(s.seconds);
    this.verifyLastRun.set(Date.now() / 1000);
  }

  /** Every quota as it stands now; removed quotas lose their series. */
  recordQuotas(quotas: QuotaUse[]): void {
    for (const gauge of [this.quotaBytesUsed, this.quotaBytesLimit, this.quotaVersionsUsed, this.quotaVersionsLimit]) gauge.reset();
    for (const q of quotas) {
      const prefix = { prefix: q.prefix };
      this.quotaBytesUsed.set(prefix, q.usedBytes);
      this.quotaVersionsUsed.set(prefix, q.usedVersions);
      if (q.maxBytes !== null) this.quotaBytesLimit.set(prefix, q.maxBytes);
      if (q.maxVersions !== null) this.quotaVersionsLimit.set(prefix, q.maxVersions);
    }
  }

  private quotaGauge(name: string, help: string, collect?: () => void): Gauge<'prefix'> {
    return new Gauge({ name, help, labelNames: ['prefix'], registers: [this.registry], aggregator: 'max', collect });
  }

  /** The counts of one scheduled retention run. */
  recordRetentionRun(s: RetentionRunSummary): void {
    this.retentionRemoved.inc(s.removed);
    this.retentionFreed.inc(s.bytes);
    this.retentionFailed.inc(s.failed);
    this.retentionLastRun.set(Date.now() / 1000);
  }

  /** One webhook delivery attempt. */
  recordWebhookAttempt(r: AttemptReport): void {
    this.webhookAttempts.inc({ outcome: r.outcome });
    if (!r.final) return;
    this.webhookDeliveries.inc({ result: r.final });
    if (r.final === 'delivered') this.webhookDelay.observe(r.delaySeconds);
  }

  /** Reports `use` as the cache named `name` (acihost_answer_cache_*). */
  watchCache(name: string, use: CacheUse): void {
    this.#caches[name] = use;
  }
}
