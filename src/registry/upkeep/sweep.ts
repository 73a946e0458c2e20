import { layout } from '../../storage/layout.ts';
import type { Storage } from '../../storage/storage.ts';
import type { Catalog } from '../catalog/catalog.ts';

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
