import { invalid, notFound } from '../../errors.ts';
import { layout } from '../../storage/layout.ts';
import { createOnce, type Storage } from '../../storage/storage.ts';
import type { AuditLog } from '../audit-log.ts';
import { refusal } from '../audit-log.ts';
import type { Catalog, Coordinates } from '../catalog/catalog.ts';
import type { StepHook } from './steps.ts';
import type { ChangeJournal } from '../catalog/change-journal.ts';
import { serializeTombstone } from './tombstone.ts';
import { authorize, type TokenRecord } from '../access/tokens.ts';
import { parseVersionRecord, type VersionRecord } from '../catalog/version-record.ts';

export interface DeleteResult {
  record: VersionRecord;
  /** What `latest` resolves to for this name/os/arch now, if anything. */
  latest: VersionRecord | undefined;
}

/** A tombstone older than this whose record is still stored marks a delete that died before finishing. */
const UNFINISHED_AFTER_MS = 60_000;

const versionNotFound = (c: Coordinates) =>
  notFound(
    'IMAGE_NOT_FOUND',
    `no image ${c.name} version ${c.version} for ${c.os}/${c.arch}; GET /-/api/images/${c.name} lists its versions`,
  );

/**
 * Deletes one published version. The steps are ordered so that a crash between
 * any two leaves a consistent store:
 *   1. the tombstone of the very record read is written create-only: the commit
 *      point. Of concurrent deletes of one record exactly one writes it; the others
 *      answer 404 and record nothing. It also refuses a silent re-push;
 *   2. the version record is deleted, only if it is still the record tombstoned
 *      (records are create-only, so a version pushed again after a delete is a new
 *      record with a new blob and its own tombstone): the single step that makes the
 *      image, its signature (kept inside the record) and its metadata disappear
 *      together. A delete that died before this step is finished by the next delete
 *      of the version once its tombstone is a minute old;
 *   3. the blob is deleted; if the process dies first, the sweep removes it as an
 *      unreferenced blob.
 */
export class Deleter {
  private readonly storage: Storage;
  private readonly catalog: Catalog;
  private readonly audit: AuditLog;

  private readonly step: StepHook;

  private readonly changes: ChangeJournal | undefined;

  constructor(opts: { storage: Storage; catalog: Catalog; audit: AuditLog; onStep?: StepHook; changes?: ChangeJournal }) {
    this.storage = opts.storage;
    this.catalog = opts.catalog;
    this.audit = opts.audit;
    this.step = opts.onStep ?? (() => {});
    this.changes = opts.changes;
  }

  async delete(token: TokenRecord, c: Coordinates): Promise<DeleteResult> {
    const result = await this.audited(token, c, {});
    // Another delete of this record won: it records the deletion, once.
    if (result === 'lost') throw versionNotFound(c);
    return result;
  }

  /**
   * A delete the server decides on (retention): of the very record planned, the one holding
   * `blob`. A version already gone (another replica's run removed it, or it was pushed again
   * since) is undefined, not a refusal, and records nothing. `detail` goes in the audit event.
   */
  async deleteIfPresent(
    token: TokenRecord,
    c: Coordinates,
    blob: string,
    detail: Record<string, unknown>,
  ): Promise<DeleteResult | undefined> {
    const result = await this.audited(token, c, { blob, detail });
    return result === 'lost' ? undefined : result;
  }

  private async audited(
    token: TokenRecord,
    c: Coordinates,
    opts: { blob?: string; detail?: Record<string, unknown> },
  ): Promise<DeleteResult | 'lost'> {
    const detail = opts.detail ?? null;
    let result: DeleteResult | 'lost';
    try {
      result = await this.deleteVersion(token, c, opts.blob);
    } catch (e) {
      await this.audit.record({ actor: token.id, action: 'delete', ...c, detail, ...refusal(e) });
      throw e;
    }
    if (result !== 'lost') {
      await this.audit.record({ actor: token.id, action: 'delete', ...c, imageId: result.record.imageId, result: 'deleted', detail });
    }
    return result;
  }

  /** With `blob`, only the record holding it is deleted; anything else counts as lost. */
  private async deleteVersion(token: TokenRecord, c: Coordinates, blob?: string): Promise<DeleteResult | 'lost'> {
    if (c.version === 'latest') {
      throw invalid(
        'VERSION_RESERVED',
        'latest moves with every push; name the exact version to delete (GET /-/api/images/NAME lists them)',
      );
    }
    authorize(token, 'delete', c.name);
    const record = await this.catalog.find(c);
    if (blob !== undefined && record?.blob !== blob) return 'lost';
    if (!record) throw versionNotFound(c);
    if (!(await this.claim(token, c, record))) {
      await this.catalog.refresh(c);
      return 'lost';
    }
    this.step('tombstoned');
    if (!(await this.storesRecord(c, record))) {
      // This index was behind: the record read was deleted already, maybe pushed again since.
      await this.catalog.refresh(c);
      return 'lost';
    }
    await this.storage.delete(layout.versionRecord(c));
    this.step('record-deleted');
    this.catalog.remove(c, record.blob);
    await this.changes?.record('delete', c);
    await this.storage.delete(record.blob);
    this.step('blob-deleted');
    return { record, latest: this.catalog.latest(c.name, c.os, c.arch) };
  }

  /**
   * Writes the record's tombstone create-only; false when another delete already
   * did. A tombstone left by a delete that died before removing the record (the
   * record is still stored, the tombstone old) is taken over, so the version can
   * still be deleted.
   */
  private async claim(token: TokenRecord, c: Coordinates, record: VersionRecord): Promise<boolean> {
    const key = layout.recordTombstone(c, record.blob);
    const tombstone = { ...c, imageId: record.imageId, digest: record.digest, deletedAt: new Date().toISOString(), tokenId: token.id };
    if (await createOnce(this.storage, key, serializeTombstone(tombstone))) return true;
    const info = await this.storage.stat(key);
    if (!info || Date.now() - info.modified.getTime() <= UNFINISHED_AFTER_MS) return false;
    return this.storesRecord(c, record);
  }

  /** Whether storage still holds this very record (the same blob) under its coordinates. */
  private async storesRecord(c: Coordinates, record: VersionRecord): Promise<boolean> {
    const stored = await this.storage.get(layout.versionRecord(c));
    return stored !== null && parseVersionRecord(stored).blob === record.blob;
  }
}
