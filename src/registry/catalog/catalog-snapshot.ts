/**
 * The index kept as one object in storage, so that a restart with many names reads
 * it and the change journal since, instead of listing and reading every version
 * record (with many names that walk is most of a cold start;
 * docs/benchmarks.md#cold-start).
 *
 * A snapshot only shortens the start. The journal is best effort, so a restored
 * index may miss a change whose entry was lost: the sweep that follows such a start
 * reconciles the index with storage before it judges any blob unreferenced.
 */
import { z } from 'zod';
import { layout } from '../../storage/layout.ts';
import type { Storage } from '../../storage/storage.ts';
import { JOURNAL_RETENTION_MS } from './change-journal.ts';
import { versionRecordSchema } from './version-record.ts';

const snapshotSchema = z.object({
  format: z.literal(1),
  /** Journal entries before this time were in the index when it was taken: a restart replays from here. */
  journalFrom: z.number().int(),
  records: z.array(versionRecordSchema),
});

export type CatalogSnapshot = Omit<z.infer<typeof snapshotSchema>, 'format'>;

// Used only while every journal entry since it is surely still stored: entries are pruned after an
// hour, by each replica's sweep and by its own clock, so ten minutes are kept in hand for both.
const USABLE_FOR_MS = JOURNAL_RETENTION_MS - 10 * 60 * 1000;
/** An unchanged index is written again this often, so its snapshot never ages out of use. */
export const SNAPSHOT_REFRESH_MS = JOURNAL_RETENTION_MS / 2;

/** The stored snapshot, or undefined when there is none or it cannot be used (`unusable` says why). */
export async function readCatalogSnapshot(
  storage: Storage,
  unusable: (reason: string) => void,
  now = Date.now(),
): Promise<CatalogSnapshot | undefined> {
  const bytes = await storage.get(layout.indexSnapshot);
  if (!bytes) return undefined;
  let parsed;
  try {
    parsed = snapshotSchema.safeParse(JSON.parse(bytes.toString('utf8')));
  } catch {
    unusable('not JSON');
    return undefined;
  }
  if (!parsed.success) {
    unusable(`not a snapshot of the index: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return undefined;
  }
  if (parsed.data.journalFrom < now - USABLE_FOR_MS) {
    unusable('older than the change journal reaches back');
    return undefined;
  }
  return { journalFrom: parsed.data.journalFrom, records: parsed.data.records };
}

export async function writeCatalogSnapshot(storage: Storage, snapshot: CatalogSnapshot): Promise<void> {
  const body: z.infer<typeof snapshotSchema> = { format: 1, ...snapshot };
  await storage.put(layout.indexSnapshot, Buffer.from(JSON.stringify(body)));
}
