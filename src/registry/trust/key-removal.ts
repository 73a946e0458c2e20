import { conflict, notFound } from '../../errors.ts';
import { normalizeFingerprint } from '../../signing/keys.ts';
import type { Storage } from '../../storage/storage.ts';
import type { KeyRecord, KeyStore } from './keyring.ts';
import { countSignedBy } from '../catalog/version-records.ts';

export interface RemovedKey {
  record: KeyRecord;
  /** Published versions signed by the key: no key this server serves verifies them any more. */
  unverifiable: number;
}

/**
 * Stops trusting a key. While published images still depend on it, this needs `force`:
 * rkt clients that discover keys here could no longer verify those images, and
 * retiring the key is usually what was meant.
 */
export async function removeKey(keys: KeyStore, storage: Storage, fingerprint: string, force: boolean): Promise<RemovedKey> {
  const fp = normalizeFingerprint(fingerprint);
  if (!(await keys.fetch(fp))) throw notFound('KEY_NOT_FOUND', `no trusted key with fingerprint ${fp}; acihost key list shows them`);
  const unverifiable = await countSignedBy(storage, fp);
  if (unverifiable > 0 && !force) {
    throw conflict(
      'KEY_IN_USE',
      `key ${fp} verifies ${unverifiable} published image${unverifiable === 1 ? '' : 's'}, which removing it would leave unverifiable; ` +
        `retire it instead (acihost key retire ${fp}: new pushes signed by it are refused, old images stay verifiable), ` +
        'or remove it anyway with --force',
    );
  }
  return { record: await keys.remove(fp), unverifiable };
}
