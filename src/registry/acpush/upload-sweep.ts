import { layout } from '../../storage/layout.ts';
import type { ObjectInfo, Storage } from '../../storage/storage.ts';

/** True when no object of a session changed for `expirySeconds`: the client has gone away. */
export function isIdle(objects: readonly ObjectInfo[], expirySeconds: number, now: number): boolean {
  const last = Math.max(...objects.map((o) => o.modified.getTime()));
  return last <= now - expirySeconds * 1000;
}

/**
 * Removes acpush upload sessions that no request touched for `expirySeconds`,
 * with every part they hold (also the remains of a half-finished discard).
 * Returns how many sessions went, and the objects of each one kept. With `remove`
 * false (a worker that leaves removals to another) idle sessions are only left out.
 */
export async function sweepUploads(
  storage: Storage,
  expirySeconds: number,
  now = Date.now(),
  remove = true,
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
    if (!remove) continue;
    const session = layout.uploadFile(id, 'session.json');
    // The session record first, so a request arriving meanwhile finds no half-removed upload.
    for (const obj of objects.sort((a, b) => Number(b.key === session) - Number(a.key === session))) await storage.delete(obj.key);
    removed++;
  }
  return { removed, kept };
}
