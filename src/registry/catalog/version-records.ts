import { prefixCovers } from '../../names.ts';
import { layout } from '../../storage/layout.ts';
import type { Storage } from '../../storage/storage.ts';
import { parseVersionRecord, type VersionRecord } from './version-record.ts';

export type StoredVersion = { key: string; record: VersionRecord } | { key: string; error: unknown };

/**
 * Every published version record in storage (optionally only names under `prefix`), one at
 * a time in key order, straight from storage rather than a loaded catalogue: the CLI has
 * none, and a check of the whole store must not hold it in memory. An unreadable record
 * is yielded as an error, not thrown, so one bad file does not hide the rest.
 */
export async function* storedVersions(storage: Storage, prefix?: string): AsyncGenerator<StoredVersion> {
  for await (const obj of storage.list(prefix ? `${layout.images}${prefix}` : layout.images)) {
    const coords = layout.parseVersionRecord(obj.key);
    if (!coords || (prefix && !prefixCovers(prefix, coords.name))) continue;
    try {
      const bytes = await storage.get(obj.key);
      if (bytes) yield { key: obj.key, record: parseVersionRecord(bytes) };
    } catch (error) {
      yield { key: obj.key, error };
    }
  }
}

/** How many published versions name `fingerprint` as their signer. */
export async function countSignedBy(storage: Storage, fingerprint: string): Promise<number> {
  let n = 0;
  for await (const v of storedVersions(storage)) if ('record' in v && v.record.signer === fingerprint) n++;
  return n;
}
