/**
 * The server's own signing keys: made here, kept encrypted with a passphrase (the operator's
 * secret), and used to make detached signatures in the one form rkt reads (signature.ts).
 * Nothing here returns or prints the secret key in the clear: callers get an opaque
 * unlocked key to sign with, and the encrypted armor to store.
 */
import { Readable } from 'node:stream';
import { ByteLengthQueuingStrategy } from 'node:stream/web';
import * as openpgp from 'openpgp';
import type { PrivateKey } from 'openpgp';
import { armorBlock } from './armor.ts';
import { pgpConfig } from './pgp-config.ts';
import { readDetachedSignature, type DetachedSignature } from './signature.ts';

/** RSA 3072: what rkt loads and what key-policy.ts recommends. */
export const SERVER_KEY_BITS = 3072;

/**
 * The secret-key protection, pinned rather than left to openpgp.js's defaults: gpg's own
 * iterated and salted S2K (SHA-256) with AES-256.
 */
const protection: openpgp.Config = {
  ...pgpConfig,
  s2kType: openpgp.enums.s2k.iterated as openpgp.Config['s2kType'],
  // 224: about 16 MB hashed per unlock (255 would be 63 MB, held in memory while it is hashed).
  s2kIterationCountByte: 224,
  preferredSymmetricAlgorithm: openpgp.enums.symmetric.aes256,
  preferredHashAlgorithm: openpgp.enums.hash.sha512,
  aeadProtect: false,
};

export interface NewServerKey {
  fingerprint: string;
  /** The public key alone, armored, for the key store. */
  armoredPublic: string;
  /** The secret key encrypted with the passphrase, armored: what storage holds. */
  encryptedPrivate: string;
}

/** An unlocked key to sign with; its secret parts never leave this module's callers' memory. */
export interface UnlockedKey {
  readonly fingerprint: string;
  readonly key: PrivateKey;
}

/** Makes an RSA key that signs only (no encryption subkey: nothing is ever encrypted to it). */
export async function generateServerKey(userId: string, passphrase: string): Promise<NewServerKey> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'rsa',
    rsaBits: SERVER_KEY_BITS,
    userIDs: [{ name: userId }],
    subkeys: [],
    passphrase,
    format: 'object',
    config: protection,
  });
  return {
    fingerprint: privateKey.getFingerprint(),
    armoredPublic: armorBlock('PGP PUBLIC KEY BLOCK', publicKey.write()),
    encryptedPrivate: privateKey.armor(protection),
  };
}

/** Opens a stored key; throws a plain Error (naming no key material) when the passphrase is wrong. */
export async function unlockServerKey(encryptedPrivate: string, passphrase: string): Promise<UnlockedKey> {
  const locked = await openpgp.readPrivateKey({ armoredKey: encryptedPrivate, config: pgpConfig });
  try {
    const key = await openpgp.decryptKey({ privateKey: locked, passphrase, config: pgpConfig });
    return { fingerprint: key.getFingerprint(), key };
  } catch {
    // openpgp.js's own message says nothing more useful, and a cause could carry key state.
    throw new Error(`the secret does not unlock signing key ${locked.getFingerprint()}`);
  }
}

/**
 * A detached signature over every byte of `data`, streamed through openpgp.js (memory stays
 * bounded whatever the size), as one v4 signature packet with its Issuer subpacket, armored
 * with the CRC24 line; checked by the same reader that checks uploaded signatures.
 */
type WebBytes = globalThis.ReadableStream<Uint8Array>;

/** What openpgp.js's packets do, and its type declarations leave out or mark private. */
interface StreamedLiteral {
  setBytes(bytes: WebBytes, format: openpgp.enums.literal): void;
  /** The data itself; the signature hashes a passive clone of it. */
  getBytes(): WebBytes;
}
interface DetachedSigning {
  sign(key: PrivateKey['keyPacket'], data: StreamedLiteral, date: Date, detached: boolean, config: openpgp.Config): Promise<void>;
}

/** Bytes read ahead of the signature's hashing. */
const QUEUE_BYTES = 256 * 1024;

export async function signDetachedStream(signer: UnlockedKey, data: Readable, signal?: AbortSignal): Promise<DetachedSignature> {
  const abort = () => data.destroy(signal?.reason instanceof Error ? signal.reason : new Error('the signing was abandoned'));
  if (signal?.aborted) abort();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    const strategy = new ByteLengthQueuingStrategy({ highWaterMark: QUEUE_BYTES });
    const literal = new openpgp.LiteralDataPacket() as unknown as StreamedLiteral;
    literal.setBytes(Readable.toWeb(data, { strategy }) as unknown as WebBytes, openpgp.enums.literal.binary);
    const packet = new openpgp.SignaturePacket();
    packet.signatureType = openpgp.enums.signature.binary;
    packet.publicKeyAlgorithm = signer.key.keyPacket.algorithm;
    packet.hashAlgorithm = openpgp.enums.hash.sha512;
    // The packet is made here rather than by openpgp.sign, which keeps every byte of a streamed
    // message it signs detached. The hash reads a passive clone of the data, so the data itself
    // is read (and dropped) alongside. A notation of random salt is openpgp.js's own addition;
    // gpg and rkt's reader have no use for it.
    const config = { ...pgpConfig, nonDeterministicSignaturesViaNotation: false };
    const signing = (packet as unknown as DetachedSigning).sign(signer.key.keyPacket, literal, new Date(), true, config);
    const reader = literal.getBytes().getReader();
    const drained = (async () => {
      while (!(await reader.read()).done);
    })();
    await Promise.all([signing, drained]);
    const list = new openpgp.PacketList<openpgp.SignaturePacket>();
    list.push(packet);
    const signature = list.write();
    const chunks: Uint8Array[] = [];
    if (signature instanceof Uint8Array) chunks.push(signature);
    else for await (const chunk of signature as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
    return await readDetachedSignature(Buffer.concat(chunks));
  } catch (e) {
    data.destroy(); // a failed signature leaves no read of the image open
    throw e;
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}
