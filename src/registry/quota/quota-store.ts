import { z } from 'zod';
import { notFound } from '../../errors.ts';
import { checkDomainPrefix, isAcIdentifier, prefixCovers } from '../../names.ts';
import { layout } from '../../storage/layout.ts';
import { jsonRecord, PrefixMirror } from '../../storage/prefix-mirror.ts';
import type { Storage } from '../../storage/storage.ts';
import { compareStrings } from '../../util/compare-strings.ts';

const limit = z.number().int().nonnegative().nullable();

const quotaRecordSchema = z.object({
  prefix: z.string(),
  /** Bytes of .aci files the names at or below the prefix may hold together; null: no limit. */
  maxBytes: limit,
  /** Versions (name, version, os, arch) they may hold together; null: no limit. */
  maxVersions: limit,
  setAt: z.string(),
});
export type QuotaRecord = z.infer<typeof quotaRecordSchema>;

export type QuotaLimits = Pick<QuotaRecord, 'maxBytes' | 'maxVersions'>;

/**
 * The quotas, set and removed by the operator with the CLI, one record per prefix in
 * storage, and read by every replica through a mirror it polls.
 */
export class QuotaStore {
  readonly mirror: PrefixMirror<QuotaRecord>;
  private readonly storage: Storage;
  private readonly domain: string;

  constructor(storage: Storage, domain: string, onBadRecord: (key: string, e: unknown) => void = () => {}) {
    this.storage = storage;
    this.domain = domain;
    this.mirror = new PrefixMirror({
      storage,
      prefix: layout.quotas,
      parse: jsonRecord(quotaRecordSchema),
      onBadRecord,
    });
  }

  /** Sets the quota of `prefix`, replacing the one it had: a limit not given is no limit. */
  async set(prefix: string, limits: QuotaLimits, now = new Date()): Promise<QuotaRecord> {
    checkDomainPrefix(this.domain, prefix, 'QUOTA');
    const record: QuotaRecord = { prefix, ...limits, setAt: now.toISOString() };
    const key = layout.quota(prefix);
    let text = JSON.stringify(record, null, 1);
    // Mirrors see a change by size and time, and S3 keeps the time to the second: a new quota set
    // within the second of the one it replaces must differ in size.
    if ((await this.storage.stat(key))?.size === Buffer.byteLength(text)) text += '\n';
    await this.storage.put(key, Buffer.from(text));
    return record;
  }

  async remove(prefix: string): Promise<void> {
    const key = layout.quota(prefix);
    // A prefix that is no name was never set, and makes no storage key.
    if (!isAcIdentifier(prefix) || !(await this.storage.stat(key))) {
      throw notFound('QUOTA_NOT_FOUND', `no quota is set for ${JSON.stringify(prefix)}; acihost quota list shows the quotas`);
    }
    await this.storage.delete(key);
  }

  /** Every quota as last read, by prefix. */
  all(): QuotaRecord[] {
    return this.mirror.values().sort((a, b) => compareStrings(a.prefix, b.prefix));
  }

  /** The quotas whose prefix covers every one of `names`: those that hold for whichever of them is pushed. */
  coveringAll(names: readonly string[]): QuotaRecord[] {
    return this.all().filter((q) => names.every((n) => prefixCovers(q.prefix, n)));
  }
}
