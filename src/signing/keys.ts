/**
 * Reading public keys for `acihost key add` and the keys routes: armored or binary input with
 * one or more keys, each checked against key-policy.ts and re-armored on its own (rkt trusts
 * only the first key of a file, so each key is stored and served separately).
 */
import * as openpgp from 'openpgp';
import type { Key } from 'openpgp';
import { invalid, tooLarge } from '../errors.ts';
import { armorBlock, dearmor, looksArmored } from './armor.ts';
import { checkAlgorithm, primaryKeyState, signingKeyIds } from './key-policy.ts';
import type { AlgorithmVerdict } from './key-policy.ts';
import { NEW_KEY_HINT } from './messages.ts';
import { splitPackets, TAG } from './packets.ts';
import { pgpConfig } from './pgp-config.ts';

export { normalizeFingerprint } from './fingerprint.ts';

export interface PublicKeyInfo {
  fingerprint: string; // 40 lowercase hex
  keyIds: string[]; // 16 lowercase hex: the primary key and subkeys that can sign
  algorithm: string; // of the primary key, e.g. 'rsa3072', 'ecdsa-p256'
  userIds: string[];
  created: Date;
  expires: Date | null;
  armored: string; // this key alone, armored with its CRC24 line
  warnings: string[];
}

/** A key file bigger than this is refused; a key with many certifications is still far below. */
export const MAX_KEY_FILE_BYTES = 1024 * 1024;
const EXPIRY_WARNING_MS = 30 * 24 * 3600 * 1000;
const PRIVATE_KEY_MESSAGE = 'this is a private key; export the public half with gpg --armor --export ID';
const EXPORT_HINT = 'export it with: gpg --armor --export ID';

/** Parses and checks every key in `input`; refuses the whole input if any key fails. */
export async function parsePublicKeys(input: string | Uint8Array): Promise<PublicKeyInfo[]> {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input;
  if (bytes.length > MAX_KEY_FILE_BYTES) {
    throw tooLarge('KEY_TOO_LARGE', `the key file is over ${MAX_KEY_FILE_BYTES} bytes; ${EXPORT_HINT} (one key per file)`);
  }
  const binary = looksArmored(bytes) ? unarmorKeys(new TextDecoder().decode(bytes)) : bytes;
  const segments = splitKeys(binary);
  const now = new Date();
  const keys: PublicKeyInfo[] = [];
  for (const [i, segment] of segments.entries()) {
    const what = segments.length > 1 ? `key ${i + 1} of ${segments.length}` : 'the key';
    keys.push(await inspectKey(segment, what, now));
  }
  return keys;
}

function unarmorKeys(text: string): Uint8Array {
  let blocks;
  try {
    blocks = dearmor(text);
  } catch (e) {
    throw invalid('KEY_UNREADABLE', `the key's ASCII armor is damaged: ${(e as Error).message}; ${EXPORT_HINT}`, e);
  }
  if (blocks.length === 0) {
    throw invalid('KEY_UNREADABLE', `no key found: expected "-----BEGIN PGP PUBLIC KEY BLOCK-----" or binary key data; ${EXPORT_HINT}`);
  }
  for (const block of blocks) {
    if (block.type === 'PGP PRIVATE KEY BLOCK') throw invalid('KEY_PRIVATE', PRIVATE_KEY_MESSAGE);
    if (block.type !== 'PGP PUBLIC KEY BLOCK') {
      throw invalid('KEY_UNREADABLE', `found a "${block.type}" block where a PGP PUBLIC KEY BLOCK belongs; ${EXPORT_HINT}`);
    }
  }
  return Buffer.concat(blocks.map((b) => b.data));
}

/** Cuts the packet stream into one segment per primary key. */
function splitKeys(binary: Uint8Array): Uint8Array[] {
  let spans;
  try {
    spans = splitPackets(binary);
  } catch (e) {
    throw invalid('KEY_UNREADABLE', `the key data is not valid OpenPGP: ${(e as Error).message}; ${EXPORT_HINT}`, e);
  }
  if (spans.some((s) => s.tag === TAG.secretKey || s.tag === TAG.secretSubkey)) {
    throw invalid('KEY_PRIVATE', PRIVATE_KEY_MESSAGE);
  }
  if (spans[0]?.tag !== TAG.publicKey) {
    throw invalid('KEY_UNREADABLE', `the data does not start with a public key; ${EXPORT_HINT}`);
  }
  const starts = spans.filter((s) => s.tag === TAG.publicKey).map((s) => s.start);
  return starts.map((start, i) => binary.subarray(start, starts[i + 1] ?? binary.length));
}

async function inspectKey(segment: Uint8Array, what: string, now: Date): Promise<PublicKeyInfo> {
  const key = await openpgp.readKey({ binaryKey: segment, config: pgpConfig }).catch((e: unknown) => {
    throw invalid('KEY_UNREADABLE', `${what} cannot be read: ${(e as Error).message}; ${EXPORT_HINT}`, e);
  });
  const fingerprint = key.getFingerprint();
  const verdicts = checkAlgorithms(key, what);
  await checkState(key, what, now);
  const keyIds = await signingKeyIds(key, now);
  if (keyIds.length === 0) {
    throw invalid(
      'KEY_NO_SIGNING_KEY',
      `${what} (${fingerprint}) has no key or subkey that can sign; add a signing subkey: ` +
        `gpg --quick-add-key ${fingerprint} rsa3072 sign 2y`,
    );
  }
  const expires = await key.getExpirationTime(undefined, pgpConfig);
  return {
    fingerprint,
    keyIds,
    algorithm: verdicts[0]?.label ?? 'unknown',
    userIds: key.getUserIDs(),
    created: key.getCreationTime(),
    expires: expires instanceof Date ? expires : null,
    armored: armorBlock('PGP PUBLIC KEY BLOCK', segment),
    warnings: warningsFor(verdicts, expires, now),
  };
}

/** Verdicts for the primary key (first) and every subkey; throws on the first refusal. */
function checkAlgorithms(key: Key, what: string): AlgorithmVerdict[] {
  const packets = [key, ...key.subkeys];
  return packets.map((k, i) => {
    const name = i === 0 ? what : `subkey ${k.getKeyID().toHex()} of ${what}`;
    if (k.keyPacket.version !== 4) {
      throw invalid(
        'KEY_VERSION_UNSUPPORTED',
        `${name} is a version ${k.keyPacket.version} OpenPGP key; rkt reads only version 4 keys; ${NEW_KEY_HINT}`,
      );
    }
    return checkAlgorithm(k.getAlgorithmInfo(), name, i === 0 ? NEW_KEY_HINT : dropSubkeyHint(key.getFingerprint()));
  });
}

const dropSubkeyHint = (fpr: string) =>
  `export the key without that subkey: gpg --armor --export '${fpr}!' ` +
  "(a '!' exports only the named key; name a signing subkey's fingerprint instead to keep that subkey)";

async function checkState(key: Key, what: string, now: Date): Promise<void> {
  const state = await primaryKeyState(key, now);
  const fpr = key.getFingerprint();
  if (state === 'revoked') {
    throw invalid('KEY_REVOKED', `${what} (${fpr}) has been revoked; sign with another key and add that one`);
  }
  if (state === 'expired') {
    const when = (await key.getExpirationTime(undefined, pgpConfig)) as Date;
    throw invalid(
      'KEY_EXPIRED',
      `${what} (${fpr}) expired on ${when.toISOString()}; extend it (gpg --quick-set-expire ${fpr} 2y), export it again and add it`,
    );
  }
  if (state === 'invalid') {
    throw invalid('KEY_UNREADABLE', `${what} (${fpr}) has no valid self-signature; ${EXPORT_HINT}`);
  }
}

function warningsFor(verdicts: AlgorithmVerdict[], expires: Date | number | null, now: Date): string[] {
  const warnings = verdicts.flatMap((v) => (v.warning ? [v.warning] : []));
  if (expires instanceof Date && expires.getTime() - now.getTime() < EXPIRY_WARNING_MS) {
    warnings.push(`the key expires on ${expires.toISOString()}; extend it with gpg --quick-set-expire FINGERPRINT 2y and add it again`);
  }
  return warnings;
}
