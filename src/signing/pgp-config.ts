import * as openpgp from 'openpgp';
import type { Config } from 'openpgp';

/**
 * openpgp.js settings for acihost. Our own key policy (key-policy.ts) decides what is
 * acceptable, following what rkt's x/crypto/openpgp can load; openpgp.js must not refuse
 * more than that. Its defaults reject DSA, which rkt accepts, so DSA is allowed here.
 */
export const pgpConfig: Config = {
  ...openpgp.config,
  rejectPublicKeyAlgorithms: new Set([openpgp.enums.publicKey.elgamal]),
};
