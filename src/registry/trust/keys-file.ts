import { armorBlock, dearmor } from '../../signing/armor.ts';
import type { KeyRecord, KeyStore } from './keyring.ts';
import { keyState, type KeyState } from './key-state.ts';
import { compareStrings } from '../../util/compare-strings.ts';

export interface KeysFile {
  /** One armor block (with its CRC24 line) holding every key, as `gpg --armor --export` writes it. */
  armored: string;
  fingerprints: string[];
}

const STATE_ORDER: Record<KeyState, number> = { active: 0, expired: 1, retired: 2 };

/**
 * The `pubkeys.gpg` of the classic static setup, for `prefix`: the keys trusted for
 * prefixes covering it, or every trusted key for the image domain itself (the root
 * file). Retired and expired keys stay in: they still verify what they signed.
 * rkt trusts only the first key of a file, so the first is the one most likely to
 * sign the next image: active before expired before retired, newest first.
 */
export function keysFile(keys: KeyStore, domain: string, prefix: string, now = new Date()): KeysFile | null {
  const chosen = prefix === domain ? keys.all() : keys.covering(prefix).map(({ record }) => record);
  if (chosen.length === 0) return null;
  const ordered = [...chosen].sort(
    (a, b) =>
      STATE_ORDER[keyState(a, now)] - STATE_ORDER[keyState(b, now)] ||
      compareStrings(b.addedAt, a.addedAt) ||
      compareStrings(a.fingerprint, b.fingerprint),
  );
  const packets = Buffer.concat(ordered.map(keyPackets));
  return { armored: armorBlock('PGP PUBLIC KEY BLOCK', packets), fingerprints: ordered.map((k) => k.fingerprint) };
}

function keyPackets(record: KeyRecord): Uint8Array {
  return Buffer.concat(dearmor(record.armored).map((b) => b.data));
}
