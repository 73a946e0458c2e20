/**
 * Streaming verification of a detached signature over the exact bytes of an .aci, as rkt
 * checks it at fetch time (docs/tutorial.md#8-fetch-rkt-fetch). The data goes through openpgp.js as a
 * web stream, so memory stays bounded whatever the size; expiry and revocation are checked
 * against the current time here, because openpgp.js judges the key at signing time only.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteLengthQueuingStrategy, ReadableStream } from 'node:stream/web';
import type { ReadableStreamDefaultController } from 'node:stream/web';
import * as openpgp from 'openpgp';
import type { Key } from 'openpgp';
import { invalid } from '../errors.ts';
import { primaryKeyState, subkeyState } from './key-policy.ts';
import type { KeyState } from './key-policy.ts';
import { SIGN_HINT } from './messages.ts';
import { pgpConfig } from './pgp-config.ts';
import type { DetachedSignature } from './signature.ts';

export interface TrustedKey {
  fingerprint: string;
  armored: string;
}

export interface VerifyResult {
  signerFingerprint: string; // the primary key's, also when a subkey signed
}

export interface VerifyOptions {
  /** The image name being published; shown in the `acihost key add --prefix` hint. */
  name?: string;
  /** Hears the size of every chunk verified (the server frees dead buffers by it). */
  onBytes?: (bytes: number) => void;
}

/** Bytes buffered between the sink and openpgp.js before the writer is asked to wait. */
const QUEUE_BYTES = 256 * 1024;

/**
 * Returns a sink to write the .aci bytes into and the verdict. The verdict may reject before
 * the data ends (an untrusted issuer is known at once); the sink then keeps accepting and
 * discarding data, so a pipeline into it never stalls. The verdict resolves only after the
 * sink has finished. A sink destroyed with an error rejects the verdict with that error.
 */
export function createVerifier(
  sig: DetachedSignature,
  keys: TrustedKey[],
  options: VerifyOptions = {},
): { sink: Writable; result: Promise<VerifyResult> } {
  const feed = createFeed();
  const result = verifyStream(sig, keys, feed.stream, options).catch((e: unknown) => {
    feed.discard();
    throw feed.failure() ?? e;
  });
  result.catch(() => undefined); // the caller may await the sink first; never an unhandled rejection
  return { sink: feed.sink, result };
}

/** Verifies `data` as a whole; stops reading it as soon as the verdict is known to be negative. */
export async function verifyDetached(
  sig: DetachedSignature,
  keys: TrustedKey[],
  data: Readable,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const { sink, result } = createVerifier(sig, keys, options);
  const piping = pipeline(data, sink);
  piping.catch(() => undefined);
  try {
    const verdict = await result;
    await piping;
    return verdict;
  } catch (e) {
    data.destroy();
    throw e;
  }
}

async function verifyStream(
  sig: DetachedSignature,
  keys: TrustedKey[],
  stream: ReadableStream<Uint8Array>,
  options: VerifyOptions,
): Promise<VerifyResult> {
  const signature = await openpgp.readSignature({ armoredSignature: sig.armored, config: pgpConfig });
  const now = new Date();
  const key = await findIssuer(sig.issuerKeyId, keys, options);
  await checkIssuerNow(key, sig.issuerKeyId, now);
  const created = signature.packets[0]?.created ?? now;
  // openpgp.js refuses signatures "from the future": allow a signer's clock that runs ahead.
  const date = new Date(Math.max(now.getTime(), created.getTime()));
  const message = await openpgp.createMessage({ binary: stream as unknown as globalThis.ReadableStream<Uint8Array> });
  const { data, signatures } = await openpgp.verify({
    message,
    signature,
    verificationKeys: key,
    format: 'binary',
    date,
    config: pgpConfig,
  });
  const verified = signatures[0]?.verified ?? Promise.reject(new Error('openpgp.js returned no verification'));
  try {
    await drainUnlessRejected(data as unknown as globalThis.ReadableStream<Uint8Array>, verified, options.onBytes);
    await verified;
  } catch (e) {
    throw invalid('SIGNATURE_MISMATCH', `the signature does not match the .aci bytes; ${SIGN_HINT}`, e);
  }
  return { signerFingerprint: key.getFingerprint() };
}

/**
 * Reads openpgp.js's output to its end, which is what drives the hashing. If the verdict fails
 * first (openpgp.js gave up on the signature), stop reading: it may never consume the rest.
 */
async function drainUnlessRejected(
  data: globalThis.ReadableStream<Uint8Array>,
  verified: Promise<unknown>,
  onBytes: (bytes: number) => void = () => undefined,
): Promise<void> {
  const reader = data.getReader();
  const drain = (async () => {
    for (let read = await reader.read(); !read.done; read = await reader.read()) onBytes(read.value.length);
  })();
  const never = new Promise<never>(() => undefined);
  try {
    await Promise.race([drain, verified.then(() => never)]);
  } catch (e) {
    drain.catch(() => undefined);
    await reader.cancel().catch(() => undefined);
    throw e;
  }
}

async function findIssuer(keyId: string, keys: TrustedKey[], options: VerifyOptions): Promise<Key> {
  for (const trusted of keys) {
    const key = await openpgp.readKey({ armoredKey: trusted.armored, config: pgpConfig });
    if (key.getKeyIDs().some((id) => id.toHex() === keyId)) return key;
  }
  const prefix = options.name ?? 'PREFIX';
  throw invalid(
    'SIGNATURE_UNTRUSTED_KEY',
    `the signature was made by key ${keyId}, which is not trusted for this name; ` +
      `sign with a trusted key, or trust this one: gpg --armor --export ${keyId} > key.asc && acihost key add --prefix ${prefix} key.asc`,
  );
}

/** The issuing key (primary or subkey) must be usable for signing now, not only when it signed. */
async function checkIssuerNow(key: Key, keyId: string, now: Date): Promise<void> {
  const fpr = key.getFingerprint();
  failOn(await primaryKeyState(key, now), `key ${fpr}`);
  const subkey = key.subkeys.find((s) => s.getKeyID().toHex() === keyId);
  if (subkey) failOn(await subkeyState(subkey, now), `subkey ${keyId} of key ${fpr}`);
  const canSign = await key.getSigningKey(subkey?.getKeyID() ?? key.getKeyID(), now, undefined, pgpConfig).then(
    () => true,
    () => false,
  );
  if (!canSign) {
    throw invalid(
      'SIGNATURE_UNTRUSTED_KEY',
      `the signature was made by ${subkey ? `subkey ${keyId}` : 'the primary key'} of trusted key ${fpr}, which is not a signing key; ` +
        'sign with its signing key: gpg --armor --local-user FINGERPRINT --detach-sign FILE.aci',
    );
  }
}

function failOn(state: KeyState, what: string): void {
  if (state === 'revoked') {
    throw invalid('SIGNATURE_KEY_REVOKED', `the signature was made by ${what}, which has been revoked; sign with another trusted key`);
  }
  if (state === 'expired') {
    throw invalid(
      'SIGNATURE_KEY_EXPIRED',
      `the signature was made by ${what}, which has expired; extend it (gpg --quick-set-expire FINGERPRINT 2y) and add the key again, or sign with another trusted key`,
    );
  }
  if (state === 'invalid') {
    throw invalid('SIGNATURE_UNTRUSTED_KEY', `the signature was made by ${what}, which has no valid self-signature; add the key again`);
  }
}

interface Feed {
  sink: Writable;
  stream: ReadableStream<Uint8Array>;
  /** From now on the sink accepts and drops everything. */
  discard(): void;
  /** The error the sink was destroyed with, if any. */
  failure(): unknown;
}

/** A Node Writable whose bytes come out of a web ReadableStream, with backpressure both ways. */
function createFeed(): Feed {
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  let waiting: (() => void) | undefined;
  let discarding = false;
  let ended = false;
  let failure: unknown;
  const release = () => {
    const cb = waiting;
    waiting = undefined;
    cb?.();
  };
  const discard = () => {
    discarding = true;
    release();
  };
  const stream = new ReadableStream<Uint8Array>(
    { start: (c) => void (controller = c), pull: release, cancel: discard },
    new ByteLengthQueuingStrategy({ highWaterMark: QUEUE_BYTES }),
  );
  const sink = new Writable({
    write(chunk: Buffer, _encoding, cb) {
      if (discarding || !controller) return cb();
      controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      if ((controller.desiredSize ?? 0) > 0) cb();
      else waiting = () => cb();
    },
    final(cb) {
      ended = true;
      if (!discarding) controller?.close();
      cb();
    },
    destroy(err, cb) {
      if (!ended && !discarding) {
        failure = err ?? new Error('the data stream was closed before its end');
        controller?.error(failure);
      }
      release();
      cb(err);
    },
  });
  return { sink, stream, discard, failure: () => failure };
}
