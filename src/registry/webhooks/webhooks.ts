/**
 * Webhooks: subscriptions to what happens under a prefix (images published and deleted,
 * keys added and retired, tokens about to expire), delivered as signed HTTPS POSTs, at
 * least once, by whichever replica comes first (docs/operations.md#webhooks).
 */
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.ts';
import { forbidden } from '../../errors.ts';
import type { Storage } from '../../storage/storage.ts';
import type { AuditLog } from '../audit-log.ts';
import { Deliverer, eventTime, type AttemptReport } from './deliverer.ts';
import { DeliveryRecords, type AttemptRecord } from './delivery-records.ts';
import { Sender } from './sender.ts';
import { Subscriptions, type NewSubscription, type Subscription } from './subscriptions.ts';

export type { AttemptReport } from './deliverer.ts';
export type { Subscription } from './subscriptions.ts';

/** One delivery as the API and CLI show it. */
export interface DeliveryView {
  eventId: string;
  kind: string | null;
  eventTime: string;
  /** pending: not finished (retried until webhooks.retryForSeconds after the event); failed: given up. */
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  /** The last attempts' records, oldest first. */
  lastAttempts: Omit<AttemptRecord, 'nextAt' | 'final'>[];
}

/** Attempts shown per delivery. */
const ATTEMPTS_SHOWN = 5;

export interface WebhookOptions {
  storage: Storage;
  domain: string;
  settings: Config['webhooks'];
  audit: AuditLog;
  log: Logger;
  pollIntervalMs: number;
  /** Hears every attempt (the server's metrics). */
  onAttempt?: (report: AttemptReport) => void;
  /** CA certificates trusted for targets besides the system's and NODE_EXTRA_CA_CERTS (tests in one process). */
  extraCa?: string[];
  /** Written as User-Agent. */
  userAgent?: string;
}

/** Who adds a subscription: the API may not open private targets, the operator's CLI may. */
export type Front = 'cli' | 'api';

export class Webhooks {
  readonly subscriptions: Subscriptions;
  private readonly records: DeliveryRecords;
  private readonly o: WebhookOptions;
  private deliverer: Deliverer | undefined;
  private sender: Sender | undefined;

  constructor(options: WebhookOptions) {
    this.o = options;
    const onBadRecord = (key: string, err: unknown) => options.log.warn({ key, err }, 'skipped unreadable webhook subscription');
    this.subscriptions = new Subscriptions(options.storage, options.domain, options.settings.subscriptions, onBadRecord);
    this.records = new DeliveryRecords(options.storage);
  }

  list(): Promise<Subscription[]> {
    return this.subscriptions.list();
  }

  /** The subscription with `id`, when `visible` lets its prefix be seen (WEBHOOK_NOT_FOUND otherwise). */
  get(id: string, visible?: (prefix: string) => boolean): Promise<Subscription> {
    return this.subscriptions.get(id, visible);
  }

  /** Adds a subscription and audits it; `secret` is the one made for it (null when the caller gave one). */
  async add(spec: NewSubscription, actor: string, front: Front): Promise<{ subscription: Subscription; secret: string | null }> {
    if (front === 'api' && spec.allowPrivateTarget) {
      throw forbidden(
        'WEBHOOK_PRIVATE_TARGET_API',
        'private targets (this machine, private networks) are allowed only by the operator: acihost webhook add --allow-private-target, or the configuration',
      );
    }
    const made = await this.subscriptions.create(spec);
    const { id, prefix, events } = made.subscription;
    await this.o.audit.record({
      actor,
      action: 'webhook.add',
      name: prefix,
      result: 'added',
      detail: { subscriptionId: id, target: shownTarget(spec.url), events },
    });
    return made;
  }

  async remove(id: string, actor: string): Promise<Subscription> {
    const removed = await this.subscriptions.remove(id);
    await this.o.audit.record({ actor, action: 'webhook.remove', name: removed.prefix, result: 'removed', detail: { subscriptionId: id } });
    return removed;
  }

  /** The newest `limit` deliveries of a subscription, newest first. */
  async deliveries(id: string, limit: number): Promise<DeliveryView[]> {
    await this.subscriptions.get(id);
    const history = await this.records.history(id, limit, ATTEMPTS_SHOWN);
    return history.map(({ eventId, state, attempts }) => {
      const last = state.result;
      const kind = state.body ? ((JSON.parse(state.body.toString('utf8')) as { kind?: string }).kind ?? null) : null;
      return {
        eventId,
        kind,
        eventTime: new Date(eventTime(eventId)).toISOString(),
        state: last?.final ?? 'pending',
        attempts: state.attempts,
        nextAttemptAt: last ? last.nextAt : null,
        lastAttempts: attempts.map(({ nextAt: _n, final: _f, ...a }) => a),
      };
    });
  }

  /** Reads the configuration's secrets (a missing one stops the start) and starts delivering. */
  async start(): Promise<void> {
    const { settings, log } = this.o;
    await this.subscriptions.resolveConfigured();
    this.sender = new Sender({
      timeoutMs: settings.timeoutSeconds * 1000,
      extraCa: this.o.extraCa,
      userAgent: this.o.userAgent ?? 'acihost-webhooks',
    });
    this.deliverer = new Deliverer({
      storage: this.o.storage,
      records: this.records,
      subscriptions: this.subscriptions,
      sender: this.sender,
      log,
      retryForSeconds: settings.retryForSeconds,
      leaseSeconds: settings.leaseSeconds,
      pollIntervalMs: this.o.pollIntervalMs,
      report: this.o.onAttempt ?? (() => undefined),
    });
    const deliverer = this.deliverer;
    // An event this replica records is delivered without waiting for the next poll.
    this.o.audit.observeStored(() => deliverer.nudge());
    await deliverer.start();
  }

  async stop(): Promise<void> {
    await this.deliverer?.stop();
    this.sender?.close();
  }
}

/** A target as the audit log keeps it: no query, which may carry a credential of the receiver's. */
function shownTarget(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}
