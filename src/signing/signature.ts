/**
 * Detached signatures (`.aci.asc`) as rkt reads them: rkt 1.30 reads only the first packet,
 * needs an Issuer key-id subpacket, and its armor reader needs the CRC24 line. We refuse what
 * it would misread and store one v4 signature packet, re-armored with the checksum.
 */
import * as openpgp from 'openpgp';
import { invalid, tooLarge } from '../errors.ts';
import { armorBlock, dearmor, looksArmored } from './armor.ts';
import { NEW_KEY_HINT, SIGN_HINT } from './messages.ts';
import { splitPackets, TAG } from './packets.ts';
import { pgpConfig } from './pgp-config.ts';
import { readV4SignatureFields } from './signature-packet.ts';

export { hasValidArmorChecksum } from './armor.ts';

export interface DetachedSignature {
  armored: string; // one signature packet, armored with its CRC24 line: what we store and serve
  issuerKeyId: string; // 16 lowercase hex
  issuerFingerprint?: string; // 40 lowercase hex, when the signature names it
}

export const MAX_SIGNATURE_BYTES = 64 * 1024;

/** Reads an armored or binary detached signature; throws a coded error for anything rkt would not accept. */
export async function readDetachedSignature(bytes: Uint8Array): Promise<DetachedSignature> {
  if (bytes.length > MAX_SIGNATURE_BYTES) {
    throw tooLarge(
      'SIGNATURE_TOO_LARGE',
      `the signature is ${bytes.length} bytes, over the ${MAX_SIGNATURE_BYTES}-byte limit (a detached signature is under 2 KiB); ${SIGN_HINT}`,
    );
  }
  const binary = looksArmored(bytes) ? unarmorSignature(new TextDecoder().decode(bytes)) : bytes;
  const packet = onlySignaturePacket(binary);
  const fields = readFields(packet.body);
  await openpgp.readSignature({ binarySignature: packet.whole, config: pgpConfig }).catch((e: unknown) => {
    throw invalid('SIGNATURE_UNREADABLE', `the signature cannot be read: ${(e as Error).message}; ${SIGN_HINT}`, e);
  });
  return {
    armored: armorBlock('PGP SIGNATURE', packet.whole),
    issuerKeyId: fields.issuerKeyId,
    ...(fields.issuerFingerprint ? { issuerFingerprint: fields.issuerFingerprint } : {}),
  };
}

function unarmorSignature(text: string): Uint8Array {
  let blocks;
  try {
    blocks = dearmor(text);
  } catch (e) {
    throw invalid('SIGNATURE_UNREADABLE', `the signature's ASCII armor is damaged: ${(e as Error).message}; ${SIGN_HINT}`, e);
  }
  if (blocks.length === 0) {
    throw invalid(
      'SIGNATURE_UNREADABLE',
      `no signature found: expected "-----BEGIN PGP SIGNATURE-----" or binary signature data; ${SIGN_HINT}`,
    );
  }
  for (const block of blocks) {
    if (block.type !== 'PGP SIGNATURE') {
      throw invalid('SIGNATURE_NOT_DETACHED', `found a "${block.type}" block, not a detached signature; ${SIGN_HINT}`);
    }
  }
  return Buffer.concat(blocks.map((b) => b.data));
}

const NOT_SIGNATURE_HINTS: Record<number, string> = {
  [TAG.compressed]: 'this is a signed message (gpg --sign), not a detached signature',
  [TAG.onePassSignature]: 'this is a signed message (gpg --sign), not a detached signature',
  [TAG.literal]: 'this is a signed message (gpg --sign), not a detached signature',
  [TAG.publicKey]: 'this is a public key, not a signature',
  [TAG.secretKey]: 'this is a private key, not a signature',
};

function onlySignaturePacket(binary: Uint8Array): { whole: Uint8Array; body: Uint8Array } {
  let spans;
  try {
    spans = splitPackets(binary);
  } catch (e) {
    throw invalid('SIGNATURE_UNREADABLE', `the signature is not valid OpenPGP data: ${(e as Error).message}; ${SIGN_HINT}`, e);
  }
  const other = spans.find((s) => s.tag !== TAG.signature);
  if (other || spans.length === 0) {
    const why = (other && NOT_SIGNATURE_HINTS[other.tag]) ?? 'the data holds no signature packet';
    throw invalid('SIGNATURE_NOT_DETACHED', `${why}; ${SIGN_HINT}`);
  }
  const [first] = spans;
  if (spans.length > 1 || !first) {
    throw invalid(
      'SIGNATURE_MULTIPLE',
      `the file holds ${spans.length} signatures, but rkt reads only the first; upload exactly one: ${SIGN_HINT}`,
    );
  }
  return { whole: binary.subarray(first.start, first.end), body: binary.subarray(first.bodyStart, first.end) };
}

function readFields(body: Uint8Array) {
  let fields;
  try {
    fields = readV4SignatureFields(body);
  } catch (e) {
    throw invalid('SIGNATURE_UNREADABLE', `the signature packet is malformed: ${(e as Error).message}; ${SIGN_HINT}`, e);
  }
  if (fields.version !== 4) {
    throw invalid(
      'SIGNATURE_UNSUPPORTED',
      `this is a version ${fields.version} signature; rkt reads version 4 signatures, as gpg makes them; ${SIGN_HINT}`,
    );
  }
  if (fields.signatureType !== 0) {
    throw invalid(
      'SIGNATURE_UNSUPPORTED',
      `this signature is of type ${fields.signatureType}, not a binary document signature (was it made with --textmode or --clearsign?); ${SIGN_HINT}`,
    );
  }
  if (fields.isEdDsa) {
    throw invalid('SIGNATURE_UNSUPPORTED', `this signature was made with an EdDSA key, which rkt cannot verify; ${NEW_KEY_HINT}`);
  }
  if (fields.hashProblem) {
    throw invalid(
      'SIGNATURE_UNSUPPORTED',
      `${fields.hashProblem}; sign again with SHA-256 or stronger: gpg --digest-algo SHA512 --armor --detach-sign FILE.aci`,
    );
  }
  if (!fields.issuerKeyId) {
    throw invalid(
      'SIGNATURE_NO_ISSUER',
      `the signature names no issuer key id, which rkt needs to find the key; ${SIGN_HINT} (gpg adds the issuer by default)`,
    );
  }
  return { issuerKeyId: fields.issuerKeyId, issuerFingerprint: fields.issuerFingerprint };
}
