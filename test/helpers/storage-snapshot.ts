import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';

/**
 * Every file under a storage directory with its size and mtime, except the
 * scratch area (tmp/) and the audit log (audit/), which contracts.md allows a
 * refused request to touch. Two equal snapshots mean nothing was stored.
 */
export async function storageSnapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = join(dir, e.name);
      const rel = relative(root, full);
      if (rel === 'tmp' || rel === 'audit') continue;
      if (e.isDirectory()) await walk(full);
      else {
        const s = await stat(full);
        out.push(`${rel} ${s.size} ${s.mtimeMs}`);
      }
    }
  }
  await walk(root);
  return out.sort();
}

/** Files left under tmp/ (scratch that a finished request must have removed). */
export async function scratchFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else out.push(relative(root, full));
    }
  }
  await walk(join(root, 'tmp'));
  return out;
}
