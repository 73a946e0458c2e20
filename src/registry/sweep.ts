import { layout } from '../storage/layout.ts';
import type { Storage } from '../storage/storage.ts';
import type { Catalog } from './catalog.ts';

export interface SweepReport {
  staging: number;
  orphanBlobs: number;
}

/**
 * Removes what a crash or an abandoned upload left behind: staging objects, and
 * blobs that no version record references (a publish killed between placing the
 * blob and writing its record). Only objects older than the grace period go, so
 * a publish in flight is never touched.
 */
export async function sweep(storage: Storage, catalog: Catalog, graceSeconds: number, now = Date.now()): Promise<SweepReport> {
  const cutoff = now - graceSeconds * 1000;
  const report: SweepReport = { staging: 0, orphanBlobs: 0 };
  for await (const obj of storage.list(layout.tmp)) {
    if (obj.modified.getTime() > cutoff) continue;
    await storage.delete(obj.key);
    report.staging++;
  }
  const referenced = catalog.referencedBlobs();
  for await (const obj of storage.list(layout.blobs)) {
    if (obj.modified.getTime() > cutoff || referenced.has(obj.key)) continue;
    await storage.delete(obj.key);
    report.orphanBlobs++;
  }
  return report;
}
