/**
 * ACME state in the shared storage, so every replica serves the same
 * certificate and one account is reused: the account key, the certificate with
 * its key (one object, so the two always match), an ordering lock and a
 * renewal request. See src/storage/layout.ts.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { layout } from '../storage/layout.ts';
import { Lease } from '../storage/lease.ts';
import type { Storage } from '../storage/storage.ts';

const accountSchema = z.object({ keyPem: z.string(), directoryUrl: z.string(), createdAt: z.string() });
const certificateSchema = z.object({
  certPem: z.string(),
  keyPem: z.string(),
  domain: z.string(),
  directoryUrl: z.string(),
  issuedAt: z.string(),
});

export type AcmeAccount = z.infer<typeof accountSchema>;
export type StoredCertificate = z.infer<typeof certificateSchema>;

const json = (value: unknown) => Buffer.from(JSON.stringify(value, null, 1));

export class AcmeStore {
  private readonly storage: Storage;
  /** Identifies this process in the lock, so it releases only its own. */
  readonly owner = randomBytes(8).toString('hex');
  private readonly orderingLease: Lease;

  constructor(storage: Storage) {
    this.storage = storage;
    this.orderingLease = new Lease(storage, layout.acmeLock, this.owner);
  }

  async account(): Promise<AcmeAccount | null> {
    return this.read(layout.acmeAccount, accountSchema);
  }

  async saveAccount(account: AcmeAccount): Promise<void> {
    await this.storage.put(layout.acmeAccount, json(account));
  }

  async certificate(): Promise<StoredCertificate | null> {
    return this.read(layout.acmeCertificate, certificateSchema);
  }

  async saveCertificate(cert: StoredCertificate): Promise<void> {
    await this.storage.put(layout.acmeCertificate, json(cert));
  }

  /**
   * Takes the ordering lock for `ttlMs`, or returns false while another process
   * holds an unexpired one. A lock left by a crashed process expires.
   */
  lock(ttlMs: number, now = new Date()): Promise<boolean> {
    return this.orderingLease.take(ttlMs, now.getTime());
  }

  unlock(): Promise<void> {
    return this.orderingLease.release();
  }

  /** True when `acihost cert renew` asked for a new certificate. */
  async renewRequested(): Promise<boolean> {
    return (await this.storage.stat(layout.acmeRenew)) !== null;
  }

  async requestRenewal(now = new Date()): Promise<void> {
    await this.storage.put(layout.acmeRenew, json({ requestedAt: now.toISOString() }));
  }

  async clearRenewal(): Promise<void> {
    await this.storage.delete(layout.acmeRenew);
  }

  private async read<T>(key: string, schema: z.ZodType<T>): Promise<T | null> {
    const bytes = await this.storage.get(key);
    return bytes === null ? null : schema.parse(JSON.parse(bytes.toString('utf8')));
  }
}
