import type { Readable } from 'node:stream';
import { z } from 'zod';
import { ConfigError } from '../../config/load.ts';
import { invalid, unavailable } from '../../errors.ts';
import { checkDomainPrefix } from '../../names.ts';
import { generateServerKey, signDetachedStream, unlockServerKey, type UnlockedKey } from '../../signing/server-key.ts';
import type { DetachedSignature } from '../../signing/signature.ts';
import { layout } from '../../storage/layout.ts';
import { jsonRecord, PrefixMirror } from '../../storage/prefix-mirror.ts';
import type { Storage } from '../../storage/storage.ts';
import { compareStrings } from '../../util/compare-strings.ts';
import type { AddedKey, KeyRecord, KeyStore } from './keyring.ts';
import { keyState } from './key-state.ts';
import { SIGNING_SECRET_FILE_VARIABLE, SIGNING_SECRET_HINT, SIGNING_SECRET_VARIABLE } from './signing-secret.ts';

const signingKeyRecordSchema = z.object({
  fingerprint: z.string().regex(/^[0-9a-f]{40}$/),
  /** The prefix it was generated for; what it may sign is what the key store trusts it for. */
  prefix: z.string(),
  createdAt: z.string(),
  /** The secret key, encrypted with the operator's secret (src/signing/server-key.ts); never shown. */
  encryptedPrivate: z.string(),
});
type SigningKeyRecord = z.infer<typeof signingKeyRecordSchema>;

/** A server key that may sign a name now: its fingerprint and the prefix it signs it under. */
export interface SigningKeyRef {
  fingerprint: string;
  prefix: string;
}

const userIdFor = (prefix: string) => `acihost signing key for ${prefix}`;

/**
 * The server's own signing keys, one or more per prefix (`acihost key generate`). The public
 * half is trusted through the key store like any added key, so discovery, pubkeys.gpg,
 * retirement and rotation treat it alike; the secret half stays in storage encrypted with the
 * operator's secret, and is unlocked in memory only. The newest active key of the most
 * specific prefix covering a name signs it.
 */
export class ServerSigner {
  private readonly storage: Storage;
  private readonly keys: KeyStore;
  private readonly domain: string;
  private readonly secret: string | undefined;
  private readonly mirror: PrefixMirror<SigningKeyRecord>;
  private readonly unlocked = new Map<string, Promise<UnlockedKey>>();

  constructor(opts: {
    storage: Storage;
    keys: KeyStore;
    domain: string;
    /** The operator's secret; without it the keys held cannot sign. */
    secret?: string;
    onBadRecord?: (key: string, e: unknown) => void;
  }) {
    this.storage = opts.storage;
    this.keys = opts.keys;
    this.domain = opts.domain;
    this.secret = opts.secret;
    this.mirror = new PrefixMirror({
      storage: opts.storage,
      prefix: layout.signingKeys,
      parse: jsonRecord(signingKeyRecordSchema),
      onBadRecord: opts.onBadRecord ?? (() => {}),
    });
  }

  /**
   * Reads the keys held and unlocks each (server start): a server that holds keys it cannot
   * open would refuse every server-signed push, so it refuses to start instead.
   */
  async load(): Promise<void> {
    await this.mirror.refresh();
    const held = this.mirror.values();
    if (held.length === 0) return;
    if (this.secret === undefined) {
      throw new ConfigError([
        `the storage holds ${held.length} server signing key(s) (acihost key generate), encrypted with a secret, and none is set: ${SIGNING_SECRET_HINT}`,
      ]);
    }
    await checkSecretOpens(held, this.secret);
    for (const record of held) this.unlocked.set(record.fingerprint, unlockServerKey(record.encryptedPrivate, this.secret));
  }

  start(intervalMs: number, onError: (e: unknown) => void): void {
    this.mirror.start(intervalMs, onError);
  }

  stop(): void {
    this.mirror.stop();
  }

  /**
   * Makes a key for `prefix`, stores its secret half encrypted with `secret`, and trusts its
   * public half for `prefix`. The secret must open the keys already held: one server reads
   * them all with one secret.
   */
  async generate(prefix: string, secret: string, now = new Date()): Promise<AddedKey> {
    checkDomainPrefix(this.domain, prefix, 'KEY');
    await this.mirror.refresh();
    await checkSecretOpens(this.mirror.values(), secret);
    const made = await generateServerKey(userIdFor(prefix), secret);
    const record: SigningKeyRecord = {
      fingerprint: made.fingerprint,
      prefix,
      createdAt: now.toISOString(),
      encryptedPrivate: made.encryptedPrivate,
    };
    // Held before trusted: a trusted server key always has its secret half.
    await this.storage.put(layout.signingKey(made.fingerprint), Buffer.from(JSON.stringify(record, null, 1)), { ifAbsent: true });
    const [added] = await this.keys.add(prefix, made.armoredPublic, now);
    await this.mirror.refresh();
    return added!;
  }

  /** Whether the server holds the secret half of this trusted key. */
  holds(fingerprint: string): boolean {
    return this.mirror.get(layout.signingKey(fingerprint)) !== undefined;
  }

  /** Drops the secret half of a key no longer trusted (`acihost key remove`); nothing when it is not held. */
  async forget(fingerprint: string): Promise<boolean> {
    const key = layout.signingKey(fingerprint);
    if (!(await this.mirror.fetch(key))) return false;
    await this.storage.delete(key);
    this.unlocked.delete(fingerprint);
    await this.mirror.refresh();
    return true;
  }

  /** The server keys trusted for a prefix covering `name`, most specific prefix first, newest first. */
  private candidates(name: string): { record: KeyRecord; prefix: string }[] {
    return this.keys
      .covering(name)
      .filter(({ record }) => this.holds(record.fingerprint))
      .sort(
        (a, b) =>
          b.prefix.length - a.prefix.length ||
          compareStrings(b.record.addedAt, a.record.addedAt) ||
          compareStrings(a.record.fingerprint, b.record.fingerprint),
      );
  }

  /** The key that signs `name` now: the newest active server key of the most specific covering prefix. */
  signerFor(name: string, now = new Date()): SigningKeyRef | undefined {
    const found = this.candidates(name).find(({ record }) => keyState(record, now) === 'active');
    return found && { fingerprint: found.record.fingerprint, prefix: found.prefix };
  }

  /** Why no server key signs `name`: none was made for it, or those made are retired or expired. */
  noSignerError(name: string, now = new Date(), what: 'push' | 'conversion' = 'push') {
    const idle = this.candidates(name);
    const states = idle.map(({ record }) => `${record.fingerprint} (${keyState(record, now)})`).join(', ');
    const why =
      idle.length === 0 ? `no server signing key covers ${name}` : `the server signing keys covering ${name} sign nothing new: ${states}`;
    const make = `make ${idle.length === 0 ? 'one' : 'a new one'}: acihost key generate --prefix ${idle[0]?.prefix ?? `PREFIX (a prefix covering ${name})`}`;
    // A push could bring its own signature instead; a conversion has none to bring.
    const message =
      what === 'push'
        ? `the push has no signature and ${why}; ${make}, or send a signature: -F asc=@IMAGE.aci.asc`
        : `${why}, so its conversion cannot be signed; ${make}`;
    return invalid('SIGNING_KEY_MISSING', message);
  }

  /** An armored detached signature over the exact bytes of `data`, by the key that signs `name`. */
  async sign(name: string, data: Readable, signal?: AbortSignal): Promise<Buffer> {
    const ref = this.signerFor(name);
    if (!ref) {
      data.destroy();
      throw this.noSignerError(name);
    }
    return Buffer.from((await this.signWith(ref, data, signal)).armored);
  }

  /** Signs with a key signerFor chose; the signature as the publisher takes it. */
  async signWith(ref: SigningKeyRef, data: Readable, signal?: AbortSignal): Promise<DetachedSignature> {
    let key: UnlockedKey;
    try {
      key = await this.unlock(ref.fingerprint);
    } catch (e) {
      data.destroy();
      throw e;
    }
    return signDetachedStream(key, data, signal);
  }

  private unlock(fingerprint: string): Promise<UnlockedKey> {
    let opening = this.unlocked.get(fingerprint);
    if (!opening) {
      opening = this.openHeld(fingerprint);
      this.unlocked.set(fingerprint, opening);
      // A failure is not kept: the next push tries again (the secret may be set right by then on a restart).
      opening.catch(() => this.unlocked.delete(fingerprint));
    }
    return opening;
  }

  private async openHeld(fingerprint: string): Promise<UnlockedKey> {
    const record = await this.mirror.fetch(layout.signingKey(fingerprint));
    if (!record) throw unavailable('SIGNING_KEY_LOCKED', `this server no longer holds signing key ${fingerprint}; push again`);
    if (this.secret === undefined) {
      throw unavailable(
        'SIGNING_KEY_LOCKED',
        `this server cannot open signing key ${fingerprint}: it was started without its secret; ${SIGNING_SECRET_HINT}, and restart it`,
      );
    }
    return unlockServerKey(record.encryptedPrivate, this.secret).catch(() => {
      throw unavailable(
        'SIGNING_KEY_LOCKED',
        `this server's ${SIGNING_SECRET_VARIABLE} does not open signing key ${fingerprint}; start it with the secret the key was generated with`,
      );
    });
  }
}

/** Every held key must open with `secret`; the message names the keys, never the secret. */
async function checkSecretOpens(held: SigningKeyRecord[], secret: string): Promise<void> {
  const closed: string[] = [];
  for (const record of held) {
    await unlockServerKey(record.encryptedPrivate, secret).catch(() => closed.push(`${record.fingerprint} (for ${record.prefix})`));
  }
  if (closed.length > 0) {
    throw new ConfigError([
      `the signing secret (${SIGNING_SECRET_VARIABLE} or ${SIGNING_SECRET_FILE_VARIABLE}) does not open the server signing key(s) ` +
        `${closed.join(', ')}; set the secret they were generated with`,
    ]);
  }
}
