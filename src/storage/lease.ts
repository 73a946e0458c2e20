import { z } from 'zod';
import { jsonRecord } from './prefix-mirror.ts';
import { createOnce, type Storage } from './storage.ts';

const leaseSchema = z.object({ owner: z.string(), expiresAt: z.string() });
export type LeaseRecord = z.infer<typeof leaseSchema>;

const body = (owner: string, ttlMs: number, now: number) =>
  Buffer.from(JSON.stringify({ owner, expiresAt: new Date(now + ttlMs).toISOString() }));

/**
 * A create-only object with an expiry inside: the one process doing some work now, among
 * replicas sharing the storage. A holder that dies leaves a lease that expires; a holder
 * that lives renews it. The store offers no compare-and-swap, so taking over an expired
 * lease can race; the work behind a lease is therefore always safe to do twice.
 */
export class Lease {
  private readonly storage: Storage;
  private readonly key: string;
  private readonly owner: string;
  private renewing: Promise<void> = Promise.resolve();
  private released = false;

  constructor(storage: Storage, key: string, owner: string) {
    this.storage = storage;
    this.key = key;
    this.owner = owner;
  }

  /**
   * Takes the lease for `ttlMs`, or returns false while another owner holds an unexpired one.
   * One of this owner's own (a renewal that crossed a release) is taken over at once.
   */
  async take(ttlMs: number, now = Date.now()): Promise<boolean> {
    this.released = false;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await createOnce(this.storage, this.key, body(this.owner, ttlMs, now))) return true;
      const held = await this.holder();
      if (held?.owner === this.owner) {
        await this.storage.put(this.key, body(this.owner, ttlMs, now));
        return true;
      }
      if (held && Date.parse(held.expiresAt) > now) return false;
      await this.storage.delete(this.key);
    }
    return false;
  }

  /** Extends a lease this owner holds; renewals run one at a time, and none after the release. */
  renew(ttlMs: number): Promise<void> {
    this.renewing = this.renewing
      .catch(() => {})
      .then(async () => {
        if (this.released) return;
        const held = await this.holder();
        if (held?.owner === this.owner && !this.released) await this.storage.put(this.key, body(this.owner, ttlMs, Date.now()));
      });
    return this.renewing;
  }

  async release(): Promise<void> {
    this.released = true;
    await this.renewing.catch(() => {});
    const held = await this.holder();
    if (held?.owner === this.owner) await this.storage.delete(this.key);
  }

  /** The lease as stored; an unreadable one counts as none. */
  async holder(): Promise<LeaseRecord | null> {
    const bytes = await this.storage.get(this.key).catch(() => null);
    if (!bytes) return null;
    try {
      return jsonRecord(leaseSchema)(bytes);
    } catch {
      return null;
    }
  }
}
