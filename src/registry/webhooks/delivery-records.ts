/**
 * The state of every delivery, in storage and nowhere else, so that a restart or a dead
 * replica loses nothing. Every object is written create-only, which is what makes one
 * replica the one to act at each step (src/storage/layout.ts lists the keys):
 *
 *   open/<sub>/<event>.json          the delivery is not finished; the scan of open/ finds it
 *   deliveries/<sub>/<event>/event.json   the body; that it exists means the event was taken up
 *   deliveries/.../<n>-claim.json    attempt n is being made by one replica, until its lease ends
 *   deliveries/.../<n>-result.json   how attempt n went: delivered, failed and when next, given up,
 *                                    or `lost` (written by whoever takes over after the lease)
 */
import { z } from 'zod';
import { layout } from '../../storage/layout.ts';
import { createOnce, type Storage } from '../../storage/storage.ts';
import type { AttemptOutcome } from './sender.ts';

const OUTCOMES = ['delivered', 'http_error', 'timeout', 'connection_failed', 'target_refused', 'lost'] as const;

const claimSchema = z.object({ attempt: z.number().int(), at: z.string(), by: z.string(), leaseUntil: z.string() });
export type Claim = z.infer<typeof claimSchema>;

const resultSchema = z.object({
  attempt: z.number().int(),
  at: z.string(),
  by: z.string(),
  /** `lost`: the replica making the attempt stopped before saying how it went. */
  outcome: z.enum(OUTCOMES),
  status: z.number().int().nullable(),
  error: z.string().nullable(),
  durationMs: z.number().nullable(),
  /** When the next attempt is due; null once final. */
  nextAt: z.string().nullable(),
  final: z.enum(['delivered', 'failed']).nullable(),
});
export type AttemptRecord = z.infer<typeof resultSchema>;
export type RecordedOutcome = AttemptOutcome | 'lost';

export interface DeliveryState {
  /** The body, when the event was taken up. */
  body: Buffer | null;
  /** The highest attempt claimed (0: none yet). */
  attempts: number;
  /** The claim of that attempt, and its result once written. */
  claim: Claim | null;
  result: AttemptRecord | null;
}

const pad = (n: number) => String(n).padStart(4, '0');
const parse = <T>(schema: z.ZodType<T>, bytes: Buffer | null): T | null =>
  bytes ? schema.parse(JSON.parse(bytes.toString('utf8'))) : null;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

/** `<n>-claim.json` / `<n>-result.json` / `event.json` after a delivery's prefix. */
const FILE = /^(?:(\d+)-(claim|result)|event)\.json$/;

interface Listed {
  attempts: number;
  results: number[];
  event: boolean;
}

function summarise(names: string[]): Listed {
  const listed: Listed = { attempts: 0, results: [], event: false };
  for (const name of names) {
    const m = FILE.exec(name);
    if (!m) continue;
    if (!m[1]) listed.event = true;
    else if (m[2] === 'claim') listed.attempts = Math.max(listed.attempts, Number(m[1]));
    else listed.results.push(Number(m[1]));
  }
  listed.results.sort((a, b) => a - b);
  return listed;
}

export interface OpenDelivery {
  subscription: string;
  eventId: string;
  /** The open/ key: what the scan keeps its notes under. */
  key: string;
}

export class DeliveryRecords {
  private readonly storage: Storage;

  constructor(storage: Storage) {
    this.storage = storage;
  }

  private file = (sub: string, eventId: string, name: string) => `${layout.webhookDelivery(sub, eventId)}${name}`;

  /** Marks the delivery open; false when it already is (another replica has it in hand). */
  open(sub: string, eventId: string, body: Buffer): Promise<boolean> {
    return createOnce(this.storage, layout.webhookOpen(sub, eventId), body);
  }

  /** The body an open delivery was opened with, or null when it is no longer open. */
  openBody(sub: string, eventId: string): Promise<Buffer | null> {
    return this.storage.get(layout.webhookOpen(sub, eventId));
  }

  /** Finished: nothing will look at it again. */
  close(sub: string, eventId: string): Promise<void> {
    return this.storage.delete(layout.webhookOpen(sub, eventId));
  }

  /** Takes the event up; false when it was taken up before (delivered already, or being delivered). */
  take(sub: string, eventId: string, body: Buffer): Promise<boolean> {
    return createOnce(this.storage, this.file(sub, eventId, 'event.json'), body);
  }

  /** Attempt `claim.attempt` is this replica's to make; false when another replica claimed it first. */
  claim(sub: string, eventId: string, claim: Claim): Promise<boolean> {
    return createOnce(this.storage, this.file(sub, eventId, `${pad(claim.attempt)}-claim.json`), json(claim));
  }

  /** Records how an attempt went; false when someone else recorded it first (it was taken over as lost). */
  record(sub: string, eventId: string, result: AttemptRecord): Promise<boolean> {
    return createOnce(this.storage, this.file(sub, eventId, `${pad(result.attempt)}-result.json`), json(result));
  }

  private async names(sub: string, eventId: string): Promise<string[]> {
    const prefix = layout.webhookDelivery(sub, eventId);
    const names: string[] = [];
    for await (const obj of this.storage.list(prefix)) names.push(obj.key.slice(prefix.length));
    return names;
  }

  private async attempt(sub: string, eventId: string, n: number): Promise<AttemptRecord | null> {
    return parse(resultSchema, await this.storage.get(this.file(sub, eventId, `${pad(n)}-result.json`)));
  }

  /** Where a delivery stands: one listing, and the objects of its last attempt. */
  async state(sub: string, eventId: string): Promise<DeliveryState> {
    return this.stateOf(sub, eventId, summarise(await this.names(sub, eventId)));
  }

  private async stateOf(sub: string, eventId: string, listed: Listed): Promise<DeliveryState> {
    const n = listed.attempts;
    const [body, claim, result] = await Promise.all([
      listed.event ? this.storage.get(this.file(sub, eventId, 'event.json')) : null,
      n > 0 ? this.storage.get(this.file(sub, eventId, `${pad(n)}-claim.json`)).then((b) => parse(claimSchema, b)) : null,
      n > 0 && listed.results.includes(n) ? this.attempt(sub, eventId, n) : null,
    ]);
    return { body, attempts: n, claim, result };
  }

  /** Every open delivery, oldest event first within each subscription. */
  async *openDeliveries(): AsyncIterable<OpenDelivery> {
    for await (const obj of this.storage.list(layout.webhooksOpen)) {
      const [subscription, file] = obj.key.slice(layout.webhooksOpen.length).split('/');
      if (subscription && file?.endsWith('.json')) yield { subscription, eventId: file.slice(0, -'.json'.length), key: obj.key };
    }
  }

  /**
   * The newest `limit` deliveries of a subscription, newest first, each with its body and
   * its last `attemptsShown` results.
   */
  async history(
    sub: string,
    limit: number,
    attemptsShown: number,
  ): Promise<{ eventId: string; state: DeliveryState; attempts: AttemptRecord[] }[]> {
    const prefix = layout.webhookDeliveries(sub);
    const byEvent = new Map<string, string[]>();
    for await (const obj of this.storage.list(prefix)) {
      const [eventId, name] = obj.key.slice(prefix.length).split('/') as [string, string | undefined];
      if (name !== undefined) byEvent.set(eventId, [...(byEvent.get(eventId) ?? []), name]);
    }
    const newest = [...byEvent.keys()].sort().reverse().slice(0, limit);
    return Promise.all(
      newest.map(async (eventId) => {
        const listed = summarise(byEvent.get(eventId)!);
        const shown = listed.results.slice(-attemptsShown);
        const [state, attempts] = await Promise.all([
          this.stateOf(sub, eventId, listed),
          Promise.all(shown.map((n) => this.attempt(sub, eventId, n))),
        ]);
        return { eventId, state, attempts: attempts.filter((a): a is AttemptRecord => a !== null) };
      }),
    );
  }

  /** Removes the objects of finished deliveries whose event is older than `before` (an event id, which sorts by time). */
  async prune(before: string, isOpen: (sub: string, eventId: string) => boolean): Promise<number> {
    let removed = 0;
    for await (const obj of this.storage.list(layout.webhookAllDeliveries)) {
      const [sub, eventId] = obj.key.slice(layout.webhookAllDeliveries.length).split('/') as [string, string];
      if (eventId >= before || isOpen(sub, eventId)) continue;
      await this.storage.delete(obj.key);
      removed++;
    }
    return removed;
  }

  async readCursor(): Promise<number | null> {
    const bytes = await this.storage.get(layout.webhookCursor);
    const ms = bytes ? Number((JSON.parse(bytes.toString('utf8')) as { ms?: unknown }).ms) : NaN;
    return Number.isFinite(ms) ? ms : null;
  }

  async writeCursor(ms: number): Promise<void> {
    await this.storage.put(layout.webhookCursor, json({ ms, at: new Date(ms).toISOString() }));
  }
}
