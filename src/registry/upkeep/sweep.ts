import { layout } from '../../storage/layout.ts';
import type { ObjectInfo, Storage } from '../../storage/storage.ts';
import type { Catalog } from '../catalog/catalog.ts';
import { isIdle } from '../acpush/upload-store.ts';

export interface SweepReport {
  staging: number;
  orphanBlobs: number;
  abortedUploads: number;
}

/**
 * Removes what a crash or an abandoned upload left behind: staging objects, and
 * blobs that no version record references (a publish killed between placing the
 * blob and writing its record). Only objects older than the grace period go, so
 * a publish in flight is never touched.
 */
export async function sweep(
  storage: Storage,
  catalog: Catalog,
  graceSeconds: number,
  now = Date.now(),
  /**
   * `fresh`: the index was read whole from storage a moment ago, so reconciling would list every
   * record again; `listed` (the usual): reconcile by listing record keys; `reread`: also read
   * every record again (after a start from the index snapshot).
   */
  index: 'fresh' | 'listed' | 'reread' = 'listed',
): Promise<SweepReport> {
  const cutoff = now - graceSeconds * 1000;
  const report: SweepReport = { staging: 0, orphanBlobs: 0, abortedUploads: (await storage.abortStaleUploads?.(new Date(cutoff))) ?? 0 };
  for await (const obj of storage.list(layout.tmp)) {
    if (obj.modified.getTime() > cutoff) continue;
    await storage.delete(obj.key);
    report.staging++;
  }
  if (index !== 'fresh') await catalog.reconcile(index === 'reread');
  const referenced = catalog.referencedBlobs();
  for await (const obj of storage.list(layout.blobs)) {
    if (obj.modified.getTime() > cutoff || referenced.has(obj.key)) continue;
    await storage.delete(obj.key);
    report.orphanBlobs++;
  }
  return report;
}

/**
 * Removes acpush upload sessions that no request touched for `expirySeconds`,
 * with every part they hold (also the remains of a half-finished discard).
 * Returns how many sessions went, and the objects of each one kept.
 */
export async function sweepUploads(
  storage: Storage,
  expirySeconds: number,
  now = Date.now(),
): Promise<{ removed: number; kept: Map<string, ObjectInfo[]> }> {
  const sessions = new Map<string, ObjectInfo[]>();
  for await (const obj of storage.list(layout.uploads)) {
    const id = layout.parseUploadKey(obj.key);
    if (id) sessions.set(id, [...(sessions.get(id) ?? []), obj]);
  }
  let removed = 0;
  const kept = new Map<string, ObjectInfo[]>();
  for (const [id, objects] of sessions) {
    if (!isIdle(objects, expirySeconds, now)) {
      kept.set(id, objects);
      continue;
    }
    const session = layout.uploadFile(id, 'session.json');
    // The session record first, so a request arriving meanwhile finds no half-removed upload.
    for (const obj of objects.sort((a, b) => Number(b.key === session) - Number(a.key === session))) await storage.delete(obj.key);
    removed++;
  }
  return { removed, kept };
}
