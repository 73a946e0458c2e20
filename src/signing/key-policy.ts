/**
 * Which keys acihost accepts: the ones rkt 1.30 can load with Go's x/crypto/openpgp (RSA, DSA,
 * ElGamal, ECDSA/ECDH on the NIST curves; v4 keys only), minus weak RSA and DSA. Go refuses a
 * whole key when any one of its (sub)key packets uses an algorithm it does not know, so every
 * subkey is checked too.
 */
import type { AlgorithmInfo, Key, Subkey } from 'openpgp';
import { invalid } from '../errors.ts';
import { NEW_KEY_HINT } from './messages.ts';
import { pgpConfig } from './pgp-config.ts';

const NIST_CURVES: Record<string, string> = { nistP256: 'p256', nistP384: 'p384', nistP521: 'p521' };
const EDDSA = new Set(['eddsaLegacy', 'ed25519', 'ed448']);
const MIN_BITS = 2048;
const RECOMMENDED_RSA_BITS = 3072;

export interface AlgorithmVerdict {
  label: string; // e.g. 'rsa3072', 'ecdsa-p256'
  warning?: string;
}

/**
 * Checks one key packet's algorithm; `what` names it in messages ("the key", "subkey 0123..."),
 * `fix` says what to do about a refusal.
 */
export function checkAlgorithm(info: AlgorithmInfo, what: string, fix = NEW_KEY_HINT): AlgorithmVerdict {
  const { algorithm, bits = 0, curve = '' } = info;
  if (EDDSA.has(algorithm)) {
    throw invalid('KEY_ALGORITHM_UNSUPPORTED', `${what} is an EdDSA (${curve || algorithm}) key; rkt cannot load EdDSA keys; ${fix}`);
  }
  if (algorithm.startsWith('rsa')) return checkBits('rsa', bits, what, fix);
  if (algorithm === 'dsa') {
    const verdict = checkBits('dsa', bits, what, fix);
    return { ...verdict, warning: `${what} is DSA, which is deprecated; for new signing ${NEW_KEY_HINT}` };
  }
  if (algorithm === 'elgamal') return { label: `elgamal${bits}` };
  if ((algorithm === 'ecdsa' || algorithm === 'ecdh') && NIST_CURVES[curve]) {
    return { label: `${algorithm}-${NIST_CURVES[curve]}` };
  }
  const name = curve ? `${algorithm} on curve ${curve}` : algorithm;
  throw invalid(
    'KEY_ALGORITHM_UNSUPPORTED',
    `${what} uses ${name}, which rkt cannot load (it supports RSA, DSA and ECDSA on NIST P-256/P-384/P-521 only, ` +
      `and ignores a whole key when one subkey is unsupported); ${fix}`,
  );
}

function checkBits(kind: 'rsa' | 'dsa', bits: number, what: string, fix: string): AlgorithmVerdict {
  const label = `${kind}${bits}`;
  if (bits < MIN_BITS) {
    throw invalid('KEY_TOO_WEAK', `${what} is ${kind.toUpperCase()} ${bits}-bit; keys below ${MIN_BITS} bits are refused; ${fix}`);
  }
  if (kind === 'rsa' && bits < RECOMMENDED_RSA_BITS) {
    return { label, warning: `${what} is RSA ${bits}-bit, accepted but weak by today's standards; for new signing ${NEW_KEY_HINT}` };
  }
  return { label };
}

export type KeyState = 'valid' | 'expired' | 'revoked' | 'invalid';

/** The primary key's state at `now`; 'invalid' means no self-signature verifies. */
export async function primaryKeyState(key: Key, now: Date): Promise<KeyState> {
  if (await key.isRevoked(undefined, undefined, now, pgpConfig)) return 'revoked';
  const expires = await key.getExpirationTime(undefined, pgpConfig);
  if (expires === null) return 'invalid';
  if (expires instanceof Date && expires <= now) return 'expired';
  try {
    await key.verifyPrimaryKey(now, undefined, pgpConfig);
  } catch {
    return 'invalid';
  }
  return 'valid';
}

/** A subkey's own state at `now` (its primary key is checked separately). */
export async function subkeyState(subkey: Subkey, now: Date): Promise<KeyState> {
  try {
    await subkey.verify(now, pgpConfig);
    return 'valid';
  } catch {
    const expires = await subkey.getExpirationTime(now, pgpConfig);
    if (expires instanceof Date && expires <= now) return 'expired';
    return subkey.revocationSignatures.length > 0 ? 'revoked' : 'invalid';
  }
}

/** Key ids (16 lowercase hex) of the primary key and subkeys that can sign at `now`. */
export async function signingKeyIds(key: Key, now: Date): Promise<string[]> {
  const ids: string[] = [];
  for (const k of key.getKeys()) {
    const id = k.getKeyID();
    const usable = await key.getSigningKey(id, now, undefined, pgpConfig).then(
      () => true,
      () => false,
    );
    if (usable) ids.push(id.toHex());
  }
  return ids;
}
