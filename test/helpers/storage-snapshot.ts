import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Every file below `dir`, as paths relative to `root`, skipping the top-level names in `skip`. */
async function filesBelow(root: string, dir: string, skip: string[] = []): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .filter((rel) => !skip.includes(rel.split('/')[0]!));
}

/**
 * Every file under a storage directory with its size and mtime, except the
 * scratch area (tmp/) and the audit log (audit/), which a refused request may
 * touch (docs/security.md#what-is-checked-and-why), and the tokens' last use
 * (token-use/), which the requests before it wrote. Two equal snapshots mean
 * nothing was stored.
 */
export async function storageSnapshot(root: string): Promise<string[]> {
  const files = await filesBelow(root, root, ['tmp', 'audit', 'token-use']);
  const lines = await Promise.all(
    files.map(async (rel) => {
      // A file the server removes between the listing and this look is not there.
      const s = await stat(join(root, rel)).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return null;
        throw e;
      });
      return s && `${rel} ${s.size} ${s.mtimeMs}`;
    }),
  );
  return lines.filter((l) => l !== null).sort();
}

/** Every file below a storage directory as a storage key, in key order. */
export async function storedKeys(root: string): Promise<string[]> {
  return (await filesBelow(root, root)).sort();
}

/** Files left under tmp/ (scratch that a finished request must have removed). */
export function scratchFiles(root: string): Promise<string[]> {
  return filesBelow(root, join(root, 'tmp'));
}
