import { publishLabels } from '../../aci/manifest.ts';
import { assertNameFits, prefixCovers } from '../../names.ts';
import { conflict, invalid, isAcihostError, malformed, unavailable } from '../../errors.ts';
import type { DetachedSignature } from '../../signing/signature.ts';
import { verifyDetached } from '../../signing/verifier.ts';
import { layout } from '../../storage/layout.ts';
import { createOnce, type Storage } from '../../storage/storage.ts';
import { refusal, type AuditLog } from '../audit-log.ts';
import type { Catalog, Coordinates } from '../catalog/catalog.ts';
import type { KeyStore } from '../trust/keyring.ts';
import { retiredSignerError } from '../trust/key-state.ts';
import type { StagedImage } from './stage-image.ts';
import type { StepHook } from './steps.ts';
import type { ChangeJournal } from '../catalog/change-journal.ts';
import { authorize, type TokenRecord } from '../access/tokens.ts';
import { serializeVersionRecord, parseVersionRecord, type VersionRecord } from '../catalog/version-record.ts';
import type { Admission, Quotas } from '../quota/quotas.ts';

// How often a push writes its record again when deletes keep removing the one in its way.
const RECORD_ATTEMPTS = 8;

const isUntrustedSigner = (e: unknown) => isAcihostError(e) && e.code === 'SIGNATURE_UNTRUSTED_KEY';

export interface PublishResult {
  /** 'created' for a new version, 'unchanged' when the same bytes were already published. */
  outcome: 'created' | 'unchanged';
  record: VersionRecord;
}

// A file of this name serves the keys of its prefix (pubkeys.gpg at any depth).
const RESERVED_LAST_SEGMENTS = new Set(['pubkeys.gpg']);

/**
 * Turns a staged, inspected upload into a published version: name and token
 * checks, the write-once rule, signature verification, then an atomic commit
 * whose single visible step is the create-only write of the version record.
 * The staged object is always consumed: published or removed.
 */
export class Publisher {
  private readonly storage: Storage;
  private readonly catalog: Catalog;
  private readonly keys: KeyStore;
  private readonly domain: string;

  private readonly step: StepHook;
  private readonly audit: AuditLog | undefined;

  private readonly changes: ChangeJournal | undefined;
  private readonly onBytes: ((bytes: number) => void) | undefined;
  private readonly quotas: Quotas | undefined;

  constructor(opts: {
    storage: Storage;
    catalog: Catalog;
    keys: KeyStore;
    domain: string;
    onStep?: StepHook;
    audit?: AuditLog;
    changes?: ChangeJournal;
    /** Hears the size of every chunk verified from the staged copy. */
    onBytes?: (bytes: number) => void;
    /** Judges every new version against the quotas covering its name before it is committed. */
    quotas?: Quotas;
  }) {
    this.onBytes = opts.onBytes;
    this.quotas = opts.quotas;
    this.audit = opts.audit;
    this.storage = opts.storage;
    this.catalog = opts.catalog;
    this.keys = opts.keys;
    this.domain = opts.domain;
    this.step = opts.onStep ?? (() => {});
    this.changes = opts.changes;
  }

  /**
   * Publishes, and records the outcome (or the refusal) in the audit log, whichever front door called.
   * `admission` is the push's claim on its quotas, which the commit's claim replaces.
   */
  async publish(
    token: TokenRecord,
    image: StagedImage,
    signature: DetachedSignature | undefined,
    admission?: Admission,
  ): Promise<PublishResult> {
    try {
      const result = await this.publishOnce(token, image, signature, admission);
      const { name, version, os, arch, imageId } = result.record;
      const check = image.signatureCheck;
      // Who signed is in the record; that the server did is said here, where the push is told.
      const detail = check && 'byServer' in check ? { signedBy: 'server', signer: check.signer } : null;
      await this.audit?.record({ actor: token.id, action: 'push', name, version, os, arch, imageId, result: result.outcome, detail });
      return result;
    } catch (e) {
      await this.auditRefusal(token, image, e);
      throw e;
    }
  }

  /** Refuses a staged image before publishing it (the server could not sign it): removed, and audited as a refused push. */
  async refuse(token: TokenRecord, image: StagedImage, e: unknown): Promise<void> {
    await this.storage.delete(image.stagedKey).catch(() => {});
    await this.auditRefusal(token, image, e);
  }

  private async auditRefusal(token: TokenRecord, image: StagedImage, e: unknown): Promise<void> {
    const { manifest, imageId } = image.inspection;
    const labels = (n: string) => manifest.labels?.find((l) => l.name === n)?.value ?? null;
    const at = { name: manifest.name, version: labels('version'), os: labels('os'), arch: labels('arch'), imageId };
    await this.audit?.record({ actor: token.id, action: 'push', ...at, ...refusal(e) });
  }

  private async publishOnce(
    token: TokenRecord,
    image: StagedImage,
    signature: DetachedSignature | undefined,
    admission: Admission | undefined,
  ): Promise<PublishResult> {
    let committed = false;
    this.step('staged');
    try {
      const coords = this.coordinates(image);
      this.checkName(coords.name);
      authorize(token, 'push', coords.name);
      const existing = await this.catalog.find(coords);
      // Other bytes under a published version: VERSION_EXISTS, whatever the signature.
      if (existing) this.sameOrConflict(existing, image);
      else await this.refuseDeleted(token, coords);
      if (!signature) {
        throw malformed(
          'SIGNATURE_MISSING',
          'the push has no signature part; send the detached signature too: -F asc=@IMAGE.aci.asc (make it with gpg --armor --detach-sign IMAGE.aci)',
        );
      }
      // A re-push of published bytes is checked as a new push is: a CI whose signing broke
      // (no signature, a key not or no longer trusted) must hear it on its next retry.
      const signer = await this.verify(coords.name, image, signature);
      if (existing) return { outcome: 'unchanged', record: existing };
      this.step('verified');
      const record: VersionRecord = {
        ...coords,
        imageId: image.inspection.imageId,
        digest: image.digest,
        size: image.size,
        uncompressedSize: image.inspection.uncompressedSize,
        compression: image.inspection.compression,
        signature: signature.armored,
        signer,
        tokenId: token.id,
        pushedAt: new Date().toISOString(),
        blob: layout.blob(image.uploadId),
      };
      const result = await this.commit(token, record, image, admission);
      committed = result.outcome === 'created';
      return result;
    } finally {
      if (!committed) await this.storage.delete(image.stagedKey).catch(() => {});
    }
  }

  private coordinates(image: StagedImage): Coordinates {
    const { manifest } = image.inspection;
    return { name: manifest.name, ...publishLabels(manifest) };
  }

  private checkName(name: string): void {
    assertNameFits(name);
    if (!prefixCovers(this.domain, name)) {
      throw invalid(
        'NAME_OUTSIDE_DOMAIN',
        `the image name ${name} is not under this server's domain ${this.domain}; name the image ${this.domain}/... in its manifest`,
      );
    }
    const last = name.slice(name.lastIndexOf('/') + 1);
    if (RESERVED_LAST_SEGMENTS.has(last)) {
      throw invalid('NAME_RESERVED', `the name ${name} ends in ${last}, which is reserved for key files; choose another name`);
    }
  }

  /** A deleted version comes back only with the overwrite scope: published bytes never change silently. */
  private async refuseDeleted(token: TokenRecord, c: Coordinates): Promise<void> {
    if (token.scopes.includes('overwrite') || !(await this.wasDeleted(c))) return;
    throw conflict(
      'VERSION_DELETED',
      `${c.name} ${c.version} ${c.os}/${c.arch} was published and then deleted, and versions are write-once; push a new version, or re-push it with a token that has the overwrite scope`,
    );
  }

  private async wasDeleted(c: Coordinates): Promise<boolean> {
    for await (const _ of this.storage.list(layout.recordTombstones(c))) return true;
    return (await this.storage.stat(layout.tombstone(c))) !== null;
  }

  private sameOrConflict(existing: VersionRecord, image: StagedImage): PublishResult {
    if (existing.digest === image.digest) return { outcome: 'unchanged', record: existing };
    throw conflict(
      'VERSION_EXISTS',
      `${existing.name} ${existing.version} ${existing.os}/${existing.arch} is already published with other bytes, and versions are write-once; push a new version`,
    );
  }

  /**
   * The signer's fingerprint, if a key trusted for a prefix covering `name` made
   * the signature. Verification runs against every trusted key (as the streamed
   * check does), so a key trusted only elsewhere gets its own, clearer error. A
   * signer this server does not know yet may have been trusted moments ago by the
   * CLI or another replica: storage is read again before the push is refused.
   */
  private async verify(name: string, image: StagedImage, signature: DetachedSignature): Promise<string> {
    const check = image.signatureCheck;
    if (check && 'error' in check) {
      if (!isUntrustedSigner(check.error)) throw check.error;
      await this.keys.mirror.refresh();
    }
    const signer = check && 'signer' in check ? check.signer : await this.verifyStaged(name, image, signature, check === undefined);
    const trusted = this.keys.covering(name).find(({ record }) => record.fingerprint === signer)?.record;
    if (trusted?.retiredAt) throw retiredSignerError(trusted, name);
    if (!trusted) {
      throw invalid(
        'SIGNATURE_KEY_NOT_TRUSTED_FOR_NAME',
        `the signature was made by key ${signer}, which is not trusted for ${name}; trust it with acihost key add --prefix PREFIX KEY.asc for a prefix covering ${name}, or sign with a key trusted for it`,
      );
    }
    return signer;
  }

  private async verifyStaged(name: string, image: StagedImage, signature: DetachedSignature, mayRefresh: boolean): Promise<string> {
    try {
      const data = await this.storage.read(image.stagedKey);
      return (await verifyDetached(signature, this.keys.verificationKeys(), data, { name, onBytes: this.onBytes })).signerFingerprint;
    } catch (e) {
      if (!mayRefresh || !isUntrustedSigner(e)) throw e;
      await this.keys.mirror.refresh();
      return this.verifyStaged(name, image, signature, false);
    }
  }

  private async commit(
    token: TokenRecord,
    record: VersionRecord,
    image: StagedImage,
    admission: Admission | undefined,
  ): Promise<PublishResult> {
    // Judged before anything is stored: refused here, the staged copy goes and nothing is published.
    const claim = await this.quotas?.claimCommit(record, admission);
    let journaled = true;
    try {
      await this.storage.promote(image.stagedKey, record.blob);
      this.step('blob-written');
      let winner: VersionRecord | undefined;
      try {
        winner = await this.createRecord(token, record);
      } catch (e) {
        await this.storage.delete(record.blob).catch(() => {});
        throw e;
      }
      if (winner) {
        // Another push of this version won the race: same bytes is a retry, else a conflict.
        await this.storage.delete(record.blob).catch(() => {});
        this.catalog.add(winner);
        return this.sameOrConflict(winner, image);
      }
      this.step('committed');
      this.catalog.add(record);
      this.step('indexed');
      journaled = (await this.changes?.record('put', record)) ?? true;
      return { outcome: 'created', record };
    } finally {
      // Other replicas learn of the version from the journal; until then, only the claim counts it for them.
      await claim?.release(!journaled);
    }
  }

  /**
   * The create-only write of the record, the commit point: undefined once it is written,
   * else the record another push of this version wrote first.
   */
  private async createRecord(token: TokenRecord, record: VersionRecord): Promise<VersionRecord | undefined> {
    const key = layout.versionRecord(record);
    for (let attempt = 1; ; attempt++) {
      if (await createOnce(this.storage, key, serializeVersionRecord(record))) return undefined;
      const stored = await this.storage.get(key);
      if (stored) return parseVersionRecord(stored);
      // A store that keeps answering "exists" for what it cannot then read is not one to retry for ever.
      if (attempt >= RECORD_ATTEMPTS) {
        throw unavailable('STORAGE_INCONSISTENT', 'the store says this version exists but cannot read it; push again shortly');
      }
      // A delete removed that record since: this push now comes after the delete, and is judged so.
      await this.refuseDeleted(token, record);
    }
  }
}
