/**
 * Atomic file writes for certificate material: write a temp file in the same
 * directory, fsync it, rename it over the target, fsync the directory. A crash
 * leaves either the old file or the new one, never half a PEM; at worst a stray
 * temp file, which removeStaleTempFiles() clears on a later run.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const TEMP_SUFFIX = /\.[0-9a-f]{12}\.tmp$/;
// A temp file this old belongs to no running writer.
const STALE_AFTER_MS = 60_000;

/** Writes `data` to `path` atomically; the file is created with `mode` (narrowed by the umask). */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(dirname(path));
}

/** Reads a UTF-8 file, or returns undefined when it does not exist. */
export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    const handle = await open(path, 'r');
    try {
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Removes temp files left by an interrupted writeFileAtomic() for any of `paths`. */
export async function removeStaleTempFiles(dir: string, paths: readonly string[], now = Date.now()): Promise<void> {
  const names = new Set(paths.map((p) => basename(p)));
  for (const entry of await readdir(dir)) {
    if (!TEMP_SUFFIX.test(entry) || !names.has(entry.replace(TEMP_SUFFIX, ''))) continue;
    const file = join(dir, entry);
    const info = await stat(file).catch(() => undefined);
    if (info !== undefined && now - info.mtimeMs > STALE_AFTER_MS) await rm(file, { force: true });
  }
}

// Makes the rename itself durable. Some platforms cannot fsync a directory;
// there the rename is still atomic, only its durability is weaker.
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw error;
  } finally {
    await handle?.close();
  }
}
