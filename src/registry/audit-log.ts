import { randomBytes } from 'node:crypto';
import { isAcihostError } from '../errors.ts';
import { layout } from '../storage/layout.ts';
import type { Storage } from '../storage/storage.ts';

export type AuditAction =
  | 'push'
  | 'delete'
  | 'key.add'
  | 'key.remove'
  | 'key.retire'
  | 'key.activate'
  | 'token.create'
  | 'token.revoke'
  // Recorded by the server itself (actor null), once per token, two weeks before it expires.
  | 'token.expiring'
  | 'quota.set'
  | 'quota.remove'
  | 'retention.set'
  | 'retention.remove'
  // An upstream image converted into versions (src/registry/mirror/): detail holds its source.
  | 'convert';
/** Webhook subscriptions made and removed (src/registry/webhooks/). */
export type WebhookAuditAction = 'webhook.add' | 'webhook.remove';
export type AuditResult =
  | 'created'
  | 'unchanged'
  | 'deleted'
  | 'added'
  | 'removed'
  | 'retired'
  | 'activated'
  | 'revoked'
  | 'refused'
  | 'failed'
  | 'expiring'
  | 'set';

/**
 * One mutation, as one JSON line. Every field is always present (null when it does
 * not apply) so that `jq` filters and log shippers see one stable shape.
 */
export interface AuditEvent {
  time: string;
  /** The token id that acted, or `cli:<user>` for the command line. */
  actor: string | null;
  action: AuditAction | WebhookAuditAction;
  name: string | null;
  version: string | null;
  os: string | null;
  arch: string | null;
  imageId: string | null;
  result: AuditResult;
  /** The error code of a refused or failed action. */
  code: string | null;
  /** What the action was about when it is not an image: a key's fingerprint, a token's id, scopes, prefixes. */
  detail: Record<string, unknown> | null;
}

export type AuditInput = Partial<Omit<AuditEvent, 'time' | 'action' | 'result'>> & Pick<AuditEvent, 'action' | 'result'>;

const EMPTY = { actor: null, name: null, version: null, os: null, arch: null, imageId: null, code: null, detail: null };

/** `2026-11-23T18:17:00.123Z` -> day `2026-11-23`, stamp `20261123T181700123Z` (sorts as time does). */
export function keyParts(time: string): { day: string; stamp: string } {
  return { day: time.slice(0, 10), stamp: time.replace(/[-:.]/g, '') };
}

/** The error code of a refusal, or null with result `failed` for anything unexpected. */
export function refusal(e: unknown): { result: AuditResult; code: string | null } {
  if (!isAcihostError(e)) return { result: 'failed', code: null };
  return {
    result: ['unavailable', 'insufficient-storage', 'bad-gateway', 'gateway-timeout'].includes(e.kind) ? 'failed' : 'refused',
    code: e.code,
  };
}

/**
 * The audit log: one small create-only object per event under audit/<day>/, since
 * an object store has no append. Listing a day's prefix returns its events in time
 * order, and `cat audit/<day>/*.json` is a JSON-lines file. A failed audit write is
 * reported, never turned into a failure of the action it records (that action has
 * already happened, and a client told "failed" would retry it).
 */
export class AuditLog {
  private readonly storage: Storage;
  private readonly onError: (e: unknown, event: AuditEvent) => void;
  private readonly observers: ((event: AuditEvent) => void)[] = [];
  private readonly storedObservers: ((event: AuditEvent) => void)[] = [];

  constructor(storage: Storage, onError: (e: unknown, event: AuditEvent) => void = () => {}) {
    this.storage = storage;
    this.onError = onError;
  }

  /** Calls `observer` with every event recorded from now on (the metrics count pushes this way). */
  observe(observer: (event: AuditEvent) => void): void {
    this.observers.push(observer);
  }

  /** Calls `observer` once each event from now on is in storage, where pollers of the log find it (webhooks). */
  observeStored(observer: (event: AuditEvent) => void): void {
    this.storedObservers.push(observer);
  }

  async record(input: AuditInput, now = new Date()): Promise<AuditEvent> {
    const event: AuditEvent = { time: now.toISOString(), ...EMPTY, ...input };
    for (const observer of this.observers) observer(event);
    const { day, stamp } = keyParts(event.time);
    const key = layout.auditEvent(day, stamp, randomBytes(6).toString('hex'));
    try {
      await this.storage.put(key, Buffer.from(JSON.stringify(event) + '\n'), { ifAbsent: true });
      for (const observer of this.storedObservers) observer(event);
    } catch (e) {
      this.onError(e, event);
    }
    return event;
  }

  /** Events in time order, from `sinceDay` (YYYY-MM-DD, inclusive) on, or all of them. */
  async *read(sinceDay?: string): AsyncIterable<AuditEvent> {
    // Keys sort by day: the listing starts at the first day asked for.
    const startAfter = sinceDay ? layout.audit + sinceDay : undefined;
    for await (const obj of this.storage.list(layout.audit, { startAfter })) {
      if (sinceDay && dayOf(obj.key) < sinceDay) continue;
      const bytes = await this.storage.get(obj.key);
      if (bytes) yield JSON.parse(bytes.toString('utf8')) as AuditEvent;
    }
  }

  /**
   * Removes the whole days whose every event is older than `keepDays` days (the sweep
   * calls this with audit.keepDays). Only the days removed are listed: keys sort by day.
   */
  async prune(keepDays: number, now = Date.now()): Promise<{ days: number; events: number }> {
    const firstKept = new Date(now - keepDays * 86_400_000).toISOString().slice(0, 10);
    const days = new Set<string>();
    let events = 0;
    for await (const obj of this.storage.list(layout.audit)) {
      const day = dayOf(obj.key);
      if (day >= firstKept) break;
      await this.storage.delete(obj.key);
      days.add(day);
      events++;
    }
    return { days: days.size, events };
  }
}

const dayOf = (key: string) => key.slice(layout.audit.length, layout.audit.length + 10);
