import { invalid } from '../errors.ts';

/**
 * A v4 OpenPGP fingerprint as 40 lowercase hex digits (the form rkt uses for its trusted-key
 * file names). Accepts what people paste: upper or lower case, spaces between groups, an
 * optional leading "0x".
 */
export function normalizeFingerprint(s: string): string {
  const hex = s.trim().replace(/^0x/i, '').replace(/\s+/g, '').toLowerCase();
  if (!/^[0-9a-f]{40}$/.test(hex)) {
    throw invalid(
      'KEY_FINGERPRINT_INVALID',
      'a key fingerprint must be 40 hexadecimal digits (spaces allowed); ' +
        'copy it from: gpg --fingerprint KEY-ID, or from acihost key list',
    );
  }
  return hex;
}
