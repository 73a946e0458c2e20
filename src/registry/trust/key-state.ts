import { invalid } from '../../errors.ts';

/**
 * Where a trusted key is in its life. Retired is the operator's decision (`acihost key
 * retire`): the key keeps verifying what it signed, but signs nothing new. Expired is read
 * from the key itself, so it needs no write when the day comes.
 */
export type KeyState = 'active' | 'retired' | 'expired';

export interface KeyLife {
  fingerprint: string;
  expires: string | null;
  retiredAt: string | null;
}

export function keyState(key: KeyLife, now = new Date()): KeyState {
  if (key.retiredAt) return 'retired';
  if (key.expires && Date.parse(key.expires) <= now.getTime()) return 'expired';
  return 'active';
}

/** The refusal for a push signed by a retired key: names the key and what to sign with. */
export function retiredSignerError(key: KeyLife, name: string) {
  return invalid(
    'SIGNATURE_KEY_RETIRED',
    `the signature was made by key ${key.fingerprint}, which was retired on ${key.retiredAt}: it still verifies the images it signed, ` +
      `but signs no new ones; sign ${name} with an active key (acihost key list shows them)`,
  );
}
