import { z } from 'zod';
import { checkDomainPrefix, prefixCovers } from '../../names.ts';
import { notFound } from '../../errors.ts';
import { normalizeFingerprint, parsePublicKeys, type PublicKeyInfo } from '../../signing/keys.ts';
import type { TrustedKey } from '../../signing/verifier.ts';
import { layout } from '../../storage/layout.ts';
import type { Storage } from '../../storage/storage.ts';
import { jsonRecord, PrefixMirror } from '../../storage/prefix-mirror.ts';
import { compareStrings } from '../../util/compare-strings.ts';

const keyRecordSchema = z.object({
  fingerprint: z.string().regex(/^[0-9a-f]{40}$/),
  keyIds: z.array(z.string()),
  prefixes: z.array(z.string()).min(1),
  algorithm: z.string(),
  userIds: z.array(z.string()),
  created: z.string(),
  expires: z.string().nullable(),
  addedAt: z.string(),
  armored: z.string(),
  /** Set by `acihost key retire`: the key verifies what it signed but signs nothing new (records before it have none). */
  retiredAt: z.string().nullable().default(null),
});
export type KeyRecord = z.infer<typeof keyRecordSchema>;

export interface AddedKey {
  info: PublicKeyInfo;
  prefixes: string[];
  /** Adding a retired key again keeps it retired: `acihost key activate` undoes a retirement. */
  retiredAt: string | null;
}

const sameRecord = (a: KeyRecord, b: KeyRecord): boolean => {
  const canonical = (r: KeyRecord) => JSON.stringify(Object.entries(r).sort(([x], [y]) => compareStrings(x, y)));
  return canonical(a) === canonical(b);
};

/** Public keys trusted to sign images under name prefixes. */
export class KeyStore {
  private readonly storage: Storage;
  private readonly domain: string;
  readonly mirror: PrefixMirror<KeyRecord>;

  constructor(storage: Storage, domain: string, onBadRecord: (key: string, e: unknown) => void = () => {}) {
    this.storage = storage;
    this.domain = domain;
    this.mirror = new PrefixMirror({
      storage,
      prefix: layout.keys,
      parse: jsonRecord(keyRecordSchema),
      onBadRecord,
    });
  }

  /** Trusts every key in `input` for `prefix`; a key already trusted elsewhere gains the prefix. */
  async add(prefix: string, input: string | Uint8Array, now = new Date()): Promise<AddedKey[]> {
    checkDomainPrefix(this.domain, prefix, 'KEY');
    const infos = await parsePublicKeys(input);
    const added: AddedKey[] = [];
    for (const info of infos) {
      const key = layout.key(info.fingerprint);
      const existing = await this.mirror.fetch(key);
      const prefixes = [...new Set([...(existing?.prefixes ?? []), prefix])].sort();
      const record: KeyRecord = {
        fingerprint: info.fingerprint,
        keyIds: info.keyIds,
        prefixes,
        algorithm: info.algorithm,
        userIds: info.userIds,
        created: info.created.toISOString(),
        expires: info.expires?.toISOString() ?? null,
        addedAt: existing?.addedAt ?? now.toISOString(),
        armored: info.armored,
        retiredAt: existing?.retiredAt ?? null,
      };
      // Adding a key again (a re-run import, a config script) writes nothing.
      if (!existing || !sameRecord(existing, record)) await this.storage.put(key, Buffer.from(JSON.stringify(record, null, 1)));
      added.push({ info, prefixes, retiredAt: record.retiredAt });
    }
    await this.mirror.refresh();
    return added;
  }

  async list(): Promise<KeyRecord[]> {
    await this.mirror.refresh();
    return this.all();
  }

  all(): KeyRecord[] {
    return this.mirror.values().sort((a, b) => compareStrings(a.addedAt, b.addedAt) || compareStrings(a.fingerprint, b.fingerprint));
  }

  async remove(fingerprint: string): Promise<KeyRecord> {
    const fp = normalizeFingerprint(fingerprint);
    const record = await this.mirror.fetch(layout.key(fp));
    if (!record) throw notFound('KEY_NOT_FOUND', `no trusted key with fingerprint ${fp}; acihost key list shows them`);
    await this.storage.delete(layout.key(fp));
    await this.mirror.refresh();
    return record;
  }

  /** Retires a key (`at`), or makes a retired key active again (`null`); returns the updated record. */
  async setRetired(fingerprint: string, at: Date | null): Promise<KeyRecord> {
    const fp = normalizeFingerprint(fingerprint);
    const record = await this.mirror.fetch(layout.key(fp));
    if (!record) throw notFound('KEY_NOT_FOUND', `no trusted key with fingerprint ${fp}; acihost key list shows them`);
    if (Boolean(record.retiredAt) === Boolean(at)) return record;
    const updated: KeyRecord = { ...record, retiredAt: at?.toISOString() ?? null };
    await this.storage.put(layout.key(fp), Buffer.from(JSON.stringify(updated, null, 1)));
    await this.mirror.refresh();
    return updated;
  }

  /** Each trusted key with a prefix covering `name` (the key's narrowest such prefix). */
  covering(name: string): { record: KeyRecord; prefix: string }[] {
    const out: { record: KeyRecord; prefix: string }[] = [];
    for (const record of this.all()) {
      const prefix = record.prefixes.filter((p) => prefixCovers(p, name)).sort((a, b) => b.length - a.length)[0];
      if (prefix) out.push({ record, prefix });
    }
    return out;
  }

  /** Every trusted key, as the signature verifier takes them. */
  verificationKeys(): TrustedKey[] {
    return this.all().map((k) => ({ fingerprint: k.fingerprint, armored: k.armored }));
  }

  /** A trusted key by fingerprint; asks storage when this process has not seen it yet. */
  fetch(fingerprint: string): Promise<KeyRecord | undefined> {
    return this.mirror.fetch(layout.key(fingerprint));
  }
}
