/**
 * Delivers webhook events, on every replica at once and each event once per subscription.
 *
 * Each replica reads the audit log from a cursor (every poll interval, and at once when it
 * records an event itself), and opens a delivery for every subscription an event concerns:
 * the create-only objects of src/registry/webhooks/delivery-records.ts decide which replica
 * opens it and which makes each attempt. Every replica also scans the open deliveries, so a
 * retry that falls due is made by whichever replica comes first, and an attempt whose replica
 * died is taken over once its lease has run out. Nothing lives only in memory: a restart reads
 * the audit log again from the cursor kept in storage and finds the open deliveries where they
 * were left.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { layout } from '../../storage/layout.ts';
import type { Storage } from '../../storage/storage.ts';
import { keyParts, type AuditEvent } from '../audit-log.ts';
import type { AttemptRecord, DeliveryRecords, RecordedOutcome } from './delivery-records.ts';
import { concerns, deliveryBody, eventIdOf, kindOf } from './kinds.ts';
import type { Sender } from './sender.ts';
import type { SigningSubscription, Subscriptions } from './subscriptions.ts';

// Replica clocks differ: the log is re-read this far back, and what was seen is skipped.
const CLOCK_SKEW_MS = 10_000;
const MAX_DELAY_MS = 3600_000;
// Attempts one replica makes at once; the rest wait their turn (and other replicas may take them).
const MAX_IN_FLIGHT = 32;
// Events of one poll opened at once: each is a read and two create-only writes.
const TAKE_UP_AT_ONCE = 16;
const CURSOR_SAVE_MS = 10_000;
const PRUNE_EVERY_MS = 3600_000;
// Finished deliveries stay visible in the API this long after their retry window.
const KEEP_FINISHED_MS = 7 * 86400_000;
// On close, attempts under way get this long to record how they went; the rest are left to their lease.
const CLOSE_WAIT_MS = 1000;
const TIMER_MARGIN_MS = 20;
const OPENER_FIRST_MS = 3000;

/** What each attempt came to, for the metrics. */
export interface AttemptReport {
  outcome: RecordedOutcome;
  /** Set when the attempt finished the delivery: delivered, or given up. */
  final: 'delivered' | 'failed' | null;
  /** From the event to the end of the attempt. */
  delaySeconds: number;
}

export interface DelivererOptions {
  storage: Storage;
  records: DeliveryRecords;
  subscriptions: Subscriptions;
  sender: Sender;
  log: Logger;
  retryForSeconds: number;
  leaseSeconds: number;
  pollIntervalMs: number;
  report: (r: AttemptReport) => void;
}

/**
 * When attempt `attempt` (1, 2, ...) that failed is followed by the next: 1 s, 2 s, 4 s...
 * after it, at most an hour, and no later than the end of the retry window; null past it.
 */
export function nextAttemptAt(attempt: number, eventMs: number, nowMs: number, retryForMs: number): number | null {
  const deadline = eventMs + retryForMs;
  if (nowMs >= deadline) return null;
  return Math.min(nowMs + Math.min(1000 * 2 ** (attempt - 1), MAX_DELAY_MS), deadline);
}

/** The time of an event from its id (`20261123T181700123Z-<random>`). */
export function eventTime(eventId: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z/.exec(eventId);
  if (!m) return NaN;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s, ms);
}

/** The event id prefix of every event from `ms` on. */
const eventIdAt = (ms: number): string => keyParts(new Date(ms).toISOString()).stamp;

const iso = (ms: number) => new Date(ms).toISOString();

export class Deliverer {
  private readonly o: DelivererOptions;
  private readonly retryForMs: number;
  private readonly leaseMs: number;
  /** Who makes an attempt, in claims: the test of a takeover kills it by this. */
  private readonly replica = `${hostname()}/${process.pid}`;
  private cursorMs = 0;
  private savedCursorMs = 0;
  private readonly seen = new Map<string, number>();
  /** Open deliveries this replica knows are not due before a time (an attempt's lease, the next retry). */
  private readonly due = new Map<string, number>();
  /** Open deliveries this replica is working on, by their open/ key. */
  private readonly busy = new Set<string>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private timer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly idle = new Set<() => void>();

  constructor(options: DelivererOptions) {
    this.o = options;
    this.retryForMs = options.retryForSeconds * 1000;
    this.leaseMs = options.leaseSeconds * 1000;
  }

  async start(now = Date.now()): Promise<void> {
    // Where the replicas had read to; events older than the retry window would only be given up.
    const stored = await this.o.records.readCursor();
    this.cursorMs = Math.max(stored ?? now, now - this.retryForMs);
    this.savedCursorMs = this.cursorMs;
    this.timer = setInterval(() => {
      if (!this.ticking) void this.tick();
    }, this.o.pollIntervalMs);
    this.timer.unref();
    this.pruneTimer = setInterval(() => void this.prune(), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
    void this.tick();
  }

  /** Reads the log now: this replica has just recorded an event. */
  nudge(): void {
    if (!this.stopped) void this.tick();
  }

  /** One poll of the audit log and one scan of the open deliveries; a nudge meanwhile runs another. */
  tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return this.ticking;
    }
    this.ticking = (async () => {
      do {
        this.again = false;
        await this.pollAudit();
        await this.scan();
      } while (this.again && !this.stopped);
    })()
      .catch((err: unknown) => {
        if (!this.stopped) this.o.log.error({ err }, 'failed to read webhook events');
      })
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async pollAudit(): Promise<void> {
    const startedAt = Date.now();
    const from = this.cursorMs - CLOCK_SKEW_MS;
    const startAfter = layout.auditDay(iso(from).slice(0, 10)) + eventIdAt(from);
    const fresh: string[] = [];
    for await (const obj of this.o.storage.list(layout.audit, { startAfter })) if (!this.seen.has(obj.key)) fresh.push(obj.key);
    let newest = startedAt - CLOCK_SKEW_MS;
    if (fresh.length > 0) {
      // After the listing: a subscription made before an event listed here is in this refresh.
      await this.o.subscriptions.refresh();
      const subscriptions = this.o.subscriptions.signing();
      for (let i = 0; i < fresh.length; i += TAKE_UP_AT_ONCE) {
        const batch = fresh.slice(i, i + TAKE_UP_AT_ONCE);
        const taken = await Promise.allSettled(
          batch.map((key) => (subscriptions.length > 0 ? this.takeUp(key, subscriptions) : undefined)),
        );
        batch.forEach((key, j) => {
          if (taken[j]!.status === 'rejected') return;
          const at = eventTime(eventIdOf(key));
          this.seen.set(key, at);
          newest = Math.max(newest, at);
        });
        // A failure stops here, before the cursor moves: the next poll reads again from before it.
        const failed = taken.find((t) => t.status === 'rejected');
        if (failed) throw failed.reason;
      }
    }
    this.cursorMs = Math.max(this.cursorMs, newest);
    for (const [key, at] of this.seen) if (at < from) this.seen.delete(key);
    if (this.cursorMs - this.savedCursorMs >= CURSOR_SAVE_MS && this.subscribed()) {
      await this.o.records.writeCursor(this.cursorMs);
      this.savedCursorMs = this.cursorMs;
    }
  }

  /** Opens a delivery of the event at `key` for each subscription it concerns. */
  private async takeUp(key: string, subscriptions: SigningSubscription[]): Promise<void> {
    const bytes = await this.o.storage.get(key);
    if (!bytes) return;
    let event: AuditEvent;
    try {
      event = JSON.parse(bytes.toString('utf8')) as AuditEvent;
    } catch (err) {
      this.o.log.warn({ err, key }, 'skipped an unreadable audit event');
      return;
    }
    const kind = kindOf(event);
    const eventMs = Date.parse(event.time);
    if (!kind || !(eventMs >= Date.now() - this.retryForMs)) return;
    const eventId = eventIdOf(key);
    const body = deliveryBody(eventId, kind, event);
    for (const sub of subscriptions) {
      if (!sub.events.includes(kind) || !concerns(sub.prefix, kind, event)) continue;
      // A subscription hears of what happens after it was made.
      if (event.time < sub.since) continue;
      await this.open(sub, eventId, body, eventMs);
    }
  }

  private async open(sub: SigningSubscription, eventId: string, body: Buffer, eventMs: number): Promise<void> {
    const key = layout.webhookOpen(sub.id, eventId);
    if (this.busy.has(key)) return;
    // Open already: another replica has it in hand.
    if (!(await this.o.records.open(sub.id, eventId, body))) return;
    if (!(await this.o.records.take(sub.id, eventId, body))) {
      // Taken up already: by a replica whose scan came first while this one was slow (the
      // delivery is its now), or before, and finished since: then this mark is one too many.
      if ((await this.o.records.state(sub.id, eventId)).result?.final) await this.o.records.close(sub.id, eventId);
      return;
    }
    this.run(key, () => this.attempt(sub, eventId, 1, body, eventMs));
  }

  /** Looks at every open delivery this replica is not already waiting for. */
  private async scan(): Promise<void> {
    const now = Date.now();
    const listed = new Set<string>();
    for await (const d of this.o.records.openDeliveries()) {
      listed.add(d.key);
      if (this.busy.has(d.key) || (this.due.get(d.key) ?? 0) > now) continue;
      // A new event is its opener's to attempt first: other replicas step in if it has not, soon after.
      if (now - eventTime(d.eventId) < OPENER_FIRST_MS) continue;
      this.run(d.key, () => this.advance(d.subscription, d.eventId, d.key));
    }
    for (const key of this.due.keys()) if (!listed.has(key)) this.due.delete(key);
  }

  /** Takes an open delivery one step on: its next attempt when due, a takeover, or closing it. */
  private async advance(subId: string, eventId: string, key: string): Promise<void> {
    const sub = await this.o.subscriptions.signingById(subId);
    if (sub === 'removed') return this.o.records.close(subId, eventId);
    if (sub === undefined) {
      // Of a configuration this replica does not have: another replica delivers it, or, once
      // past the retry window, none will (it was taken out of every configuration).
      if (Date.now() > eventTime(eventId) + this.retryForMs + this.leaseMs) return this.o.records.close(subId, eventId);
      this.due.set(key, Date.now() + this.leaseMs);
      return;
    }
    const state = await this.o.records.state(subId, eventId);
    let body = state.body;
    if (body === null) {
      // Opened by a replica that stopped before taking it up.
      body = await this.o.records.openBody(subId, eventId);
      if (body === null || !(await this.o.records.take(subId, eventId, body))) return;
    }
    if (state.result?.final) return this.o.records.close(subId, eventId);
    const eventMs = eventTime(eventId);
    const now = Date.now();
    if (state.claim && !state.result) {
      const leaseEnd = Date.parse(state.claim.leaseUntil);
      if (leaseEnd > now) {
        this.due.set(key, leaseEnd);
        return;
      }
      // Its replica died, or hangs past its lease: the attempt is recorded as lost, which also
      // keeps that replica from recording anything for it later. The next attempt is due now.
      const final = now >= eventMs + this.retryForMs ? 'failed' : null;
      const lost: AttemptRecord = {
        attempt: state.attempts,
        at: iso(now),
        by: this.replica,
        outcome: 'lost',
        status: null,
        error: `${state.claim.by} did not record how it went within its lease`,
        durationMs: null,
        nextAt: final ? null : iso(now),
        final,
      };
      if (!(await this.o.records.record(subId, eventId, lost))) return;
      this.o.report({ outcome: 'lost', final, delaySeconds: (now - eventMs) / 1000 });
      this.o.log.warn({ subscription: subId, eventId, attempt: state.attempts, by: state.claim.by }, 'webhook attempt taken over');
      if (final) return this.o.records.close(subId, eventId);
    } else if (state.result?.nextAt && Date.parse(state.result.nextAt) > now) {
      this.due.set(key, Date.parse(state.result.nextAt));
      return;
    }
    await this.attempt(sub, eventId, state.attempts + 1, body, eventMs);
  }

  private async attempt(sub: SigningSubscription, eventId: string, n: number, body: Buffer, eventMs: number): Promise<void> {
    const key = layout.webhookOpen(sub.id, eventId);
    const claimedAt = Date.now();
    const claim = { attempt: n, at: iso(claimedAt), by: this.replica, leaseUntil: iso(claimedAt + this.leaseMs) };
    if (!(await this.o.records.claim(sub.id, eventId, claim))) {
      // Another replica is making it; the scan looks again.
      this.due.delete(key);
      return;
    }
    const { kind } = JSON.parse(body.toString('utf8')) as { kind: string };
    const sent = await this.o.sender.send({ url: sub.url, secret: sub.secret, policy: sub, eventId, kind, body });
    // Closing: the claim's lease runs out and the attempt is made again (by a replica, or after the restart).
    if (this.stopped) return;
    const now = Date.now();
    const delivered = sent.outcome === 'delivered';
    const nextAt = delivered ? null : nextAttemptAt(n, eventMs, now, this.retryForMs);
    const final = delivered ? 'delivered' : nextAt === null ? 'failed' : null;
    const result: AttemptRecord = {
      attempt: n,
      at: iso(now),
      by: this.replica,
      ...sent,
      nextAt: nextAt === null ? null : iso(nextAt),
      final,
    };
    const fields = { subscription: sub.id, eventId, attempt: n, outcome: sent.outcome, status: sent.status };
    if (!(await this.o.records.record(sub.id, eventId, result))) {
      this.o.log.warn(fields, 'webhook attempt ended after another replica took it over');
      return;
    }
    this.o.report({ outcome: sent.outcome, final, delaySeconds: (now - eventMs) / 1000 });
    if (!delivered) this.o.log.info({ ...fields, error: sent.error, nextAt: result.nextAt }, 'webhook attempt failed');
    if (final === 'failed') this.o.log.warn({ ...fields, url: sub.url }, 'webhook delivery given up');
    if (final) {
      this.due.delete(key);
      await this.o.records.close(sub.id, eventId);
    } else this.retryAt(key, sub.id, eventId, nextAt!);
  }

  /** This replica makes the retry when it falls due, unless another replica's scan comes first. */
  private retryAt(key: string, subId: string, eventId: string, at: number): void {
    this.due.set(key, at);
    const timer = setTimeout(
      () => {
        this.retryTimers.delete(timer);
        if (!this.stopped && !this.busy.has(key)) this.run(key, () => this.advance(subId, eventId, key));
      },
      // A little late rather than early: timers run by the event loop's clock, which lags the wall clock.
      Math.max(0, at - Date.now()) + TIMER_MARGIN_MS,
    );
    timer.unref();
    this.retryTimers.add(timer);
  }

  /** Works on one delivery at a time per key, within MAX_IN_FLIGHT; a failed step is retried by the next scan. */
  private run(key: string, work: () => Promise<void>): void {
    this.busy.add(key);
    void this.limited(work)
      .catch((err: unknown) => {
        if (!this.stopped) this.o.log.error({ err, delivery: key }, 'failed to work on a webhook delivery');
      })
      .finally(() => {
        this.busy.delete(key);
        if (this.busy.size === 0) for (const resolve of this.idle) resolve();
      });
  }

  private async limited(work: () => Promise<void>): Promise<void> {
    if (this.active < MAX_IN_FLIGHT) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      if (!this.stopped) await work();
    } finally {
      // The slot passes to the next in line, or is given back.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }

  /** Removes what finished deliveries left behind once they are past showing (hourly, on every replica). */
  async prune(now = Date.now()): Promise<number> {
    try {
      const open = new Set<string>();
      for await (const d of this.o.records.openDeliveries()) open.add(`${d.subscription}/${d.eventId}`);
      const before = eventIdAt(now - this.retryForMs - KEEP_FINISHED_MS);
      return await this.o.records.prune(before, (sub, eventId) => open.has(`${sub}/${eventId}`));
    } catch (err) {
      if (!this.stopped) this.o.log.warn({ err }, 'failed to prune finished webhook deliveries');
      return 0;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearInterval(this.pruneTimer);
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    for (const resolve of this.waiting.splice(0)) resolve();
    if (this.busy.size > 0) {
      let resolve!: () => void;
      const drained = new Promise<void>((r) => (resolve = r));
      this.idle.add(resolve);
      await Promise.race([drained, new Promise((r) => setTimeout(r, CLOSE_WAIT_MS).unref())]);
      this.idle.delete(resolve);
    }
    await this.ticking;
    if (this.cursorMs > this.savedCursorMs && this.subscribed()) await this.o.records.writeCursor(this.cursorMs).catch(() => undefined);
  }

  /**
   * Whether any subscription is known: without one there is nothing to resume, and an
   * idle server writes nothing (a refused request leaves storage as it was).
   */
  private subscribed(): boolean {
    return this.o.subscriptions.signing().length > 0;
  }
}
