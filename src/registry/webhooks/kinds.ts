/**
 * Which audit events are webhook events, and which subscriptions each one concerns.
 */
import type { WebhookEvent } from '../../config/webhooks-schema.ts';
import { prefixCovers } from '../../names.ts';
import type { AuditEvent } from '../audit-log.ts';

/** An audit event's action and result, and the kind a subscriber is told of. */
const KINDS: Record<string, WebhookEvent> = {
  'push/created': 'image.published',
  'delete/deleted': 'image.deleted',
  'key.add/added': 'key.added',
  'key.retire/retired': 'key.retired',
};

/** Actions that are events whatever their result, by name: the audit log may record actions this build does not type. */
const BY_ACTION: Record<string, WebhookEvent> = { 'token.expiring': 'token.expiring' };

/** The kind of event an audit event is, or undefined for one no subscriber is told of (a refused push, a key removed). */
export function kindOf(event: Pick<AuditEvent, 'action' | 'result'>): WebhookEvent | undefined {
  return BY_ACTION[event.action] ?? KINDS[`${event.action}/${event.result}`];
}

const IMAGE_KINDS: ReadonlySet<WebhookEvent> = new Set(['image.published', 'image.deleted']);

/** The prefixes a key or token event is about: the name it names and the prefixes in its detail. */
function prefixesOf(event: AuditEvent): string[] {
  const listed = event.detail?.prefixes;
  const prefixes = Array.isArray(listed) ? listed.filter((p): p is string => typeof p === 'string') : [];
  return event.name === null ? prefixes : [event.name, ...prefixes];
}

/**
 * Whether a subscription for `prefix` hears of `event`: an image under the prefix; a key or
 * token whose prefixes overlap it (a key trusted for the whole domain signs the team's images
 * too, and a key for one team's prefix is news to a subscriber for the domain).
 */
export function concerns(prefix: string, kind: WebhookEvent, event: AuditEvent): boolean {
  if (IMAGE_KINDS.has(kind)) return event.name !== null && prefixCovers(prefix, event.name);
  return prefixesOf(event).some((p) => prefixCovers(prefix, p) || prefixCovers(p, prefix));
}

/** The id of the event stored at `audit/<day>/<stamp>-<random>.json`: `<stamp>-<random>`, which sorts by time. */
export function eventIdOf(auditKey: string): string {
  return auditKey.slice(auditKey.lastIndexOf('/') + 1, -'.json'.length);
}

/** What a subscriber receives: every field of the audit event, with its id and kind first. */
export function deliveryBody(id: string, kind: WebhookEvent, event: AuditEvent): Buffer {
  return Buffer.from(JSON.stringify({ id, kind, ...event }));
}
