import { invalid, notFound } from '../errors.ts';
import { layout } from '../storage/layout.ts';
import type { Storage } from '../storage/storage.ts';
import type { AuditLog } from './audit-log.ts';
import { refusal } from './audit-log.ts';
import type { Catalog, Coordinates } from './catalog.ts';
import type { StepHook } from './steps.ts';
import type { ChangeJournal } from './change-journal.ts';
import { serializeTombstone } from './tombstone.ts';
import { authorize, type TokenRecord } from './tokens.ts';
import type { VersionRecord } from './version-record.ts';

export interface DeleteResult {
  record: VersionRecord;
  /** What `latest` resolves to for this name/os/arch now, if anything. */
  latest: VersionRecord | undefined;
}

/**
 * Deletes one published version. The steps are ordered so that a crash between
 * any two leaves a consistent store:
 *   1. the tombstone is written first, so the version can never be re-pushed
 *      silently, even if the process dies right after step 2;
 *   2. the version record is deleted: the single step that makes the image, its
 *      signature (kept inside the record) and its metadata disappear together;
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
    try {
      const result = await this.deleteVersion(token, c);
      await this.audit.record({ actor: token.id, action: 'delete', ...c, imageId: result.record.imageId, result: 'deleted' });
      return result;
    } catch (e) {
      await this.audit.record({ actor: token.id, action: 'delete', ...c, ...refusal(e) });
      throw e;
    }
  }

  private async deleteVersion(token: TokenRecord, c: Coordinates): Promise<DeleteResult> {
    if (c.version === 'latest') {
      throw invalid(
        'VERSION_RESERVED',
        'latest moves with every push; name the exact version to delete (GET /-/api/images/NAME lists them)',
      );
    }
    authorize(token, 'delete', c.name);
    const record = await this.catalog.find(c);
    if (!record) {
      throw notFound(
        'IMAGE_NOT_FOUND',
        `no image ${c.name} version ${c.version} for ${c.os}/${c.arch}; GET /-/api/images/${c.name} lists its versions`,
      );
    }
    const tombstone = { ...c, imageId: record.imageId, digest: record.digest, deletedAt: new Date().toISOString(), tokenId: token.id };
    await this.storage.put(layout.tombstone(c), serializeTombstone(tombstone));
    this.step('tombstoned');
    await this.storage.delete(layout.versionRecord(c));
    this.step('record-deleted');
    this.catalog.remove(c);
    await this.changes?.record('delete', c);
    await this.storage.delete(record.blob);
    this.step('blob-deleted');
    return { record, latest: this.catalog.latest(c.name, c.os, c.arch) };
  }
}
