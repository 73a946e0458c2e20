import { randomBytes } from 'node:crypto';
import { fstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { link, mkdir, open, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { setImmediate } from 'node:timers/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DurableFileWriter } from './durable-file-writer.ts';
import { FileReadStream, READ_CHUNK } from './file-read-stream.ts';
import {
  KeyExistsError,
  KeyNotFoundError,
  type ByteRange,
  type ListOptions,
  type ObjectInfo,
  type PutOptions,
  type Storage,
} from './storage.ts';

// 1 MiB writes, as reads (file-read-stream.ts).
const WRITE_CHUNK = READ_CHUNK;

// How often placing an object makes its directory again after concurrent deletes pruned it.
const PLACE_ATTEMPTS = 8;

// A listing blocks the event loop for at most this many directory reads at a time.
const YIELD_EVERY_DIRS = 64;

const isCode = (e: unknown, code: string) => (e as NodeJS.ErrnoException)?.code === code;

// No object at a key whose path is a directory (the key only prefixes others) or runs through a file.
const isAbsent = (e: unknown) => isCode(e, 'ENOENT') || isCode(e, 'EISDIR') || isCode(e, 'ENOTDIR');

/**
 * The filesystem backend: one directory, keys as relative paths. Writes go to a
 * scratch file under tmp/, are fsynced, then appear by rename (replace) or link
 * (create-only: link(2) fails atomically with EEXIST), so readers only ever see
 * whole files.
 */
export class FsStorage implements Storage {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }

  private path(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    let handle;
    try {
      handle = await open(this.path(key), 'r');
    } catch (e) {
      if (isAbsent(e)) throw new KeyNotFoundError(key);
      throw e;
    }
    // Opening a directory succeeds; reading it would fail only once streaming.
    if (fstatSync(handle.fd).isDirectory()) {
      await handle.close();
      throw new KeyNotFoundError(key);
    }
    return new FileReadStream(handle, range?.start, range?.end);
  }

  // Records are small: one synchronous read costs less than the four thread-pool round trips
  // of an async readFile, and loading 10,000 of them at start was most of a cold start.
  async get(key: string): Promise<Buffer | null> {
    try {
      return readFileSync(this.path(key));
    } catch (e) {
      if (isAbsent(e)) return null;
      throw e;
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const s = await stat(this.path(key));
      return s.isFile() ? { key, size: s.size, modified: s.mtime } : null;
    } catch (e) {
      if (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR')) return null;
      throw e;
    }
  }

  async put(key: string, body: Buffer | Readable, options: PutOptions = {}): Promise<ObjectInfo> {
    const scratch = this.path(`tmp/put/${randomBytes(12).toString('hex')}`);
    await mkdir(dirname(scratch), { recursive: true });
    try {
      await this.writeDurably(scratch, body);
      await this.place(scratch, key, options.ifAbsent === true);
    } finally {
      await unlink(scratch).catch(() => {});
    }
    return (await this.stat(key))!;
  }

  async promote(from: string, to: string): Promise<void> {
    try {
      await this.place(this.path(from), to, true);
    } catch (e) {
      // link(2) says ENOENT for a missing source and a missing target directory alike.
      if (isCode(e, 'ENOENT') && !(await this.stat(from))) throw new KeyNotFoundError(from);
      throw e;
    }
    await unlink(this.path(from));
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.path(key));
    } catch (e) {
      if (!isAbsent(e)) throw e;
    }
    // Staging directories stay: every put creates its scratch file there, and one pruned
    // between another put's mkdir and open would fail that put.
    if (!key.startsWith('tmp/')) await this.pruneEmptyParents(dirname(this.path(key)));
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const cut = prefix.lastIndexOf('/');
    const base = cut < 0 ? '' : prefix.slice(0, cut);
    const found: ObjectInfo[] = [];
    await this.walk(base ? this.path(base) : this.root, prefix, found);
    found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const after = options.startAfter;
    yield* after === undefined ? found : found.filter((o) => o.key > after);
  }

  async close(): Promise<void> {}

  private async writeDurably(file: string, body: Buffer | Readable): Promise<void> {
    // Records, journal entries and audit lines: written and synced at once, without
    // the stream machinery a put of a few hundred bytes would otherwise cost.
    if (Buffer.isBuffer(body)) return writeSynced(file, body);
    // pipeline() never settles on a source destroyed before it is attached (Node 24):
    // an upload aborted while this put awaited its directory must fail here.
    if (body.destroyed) throw body.errored ?? new Error('the body was aborted before it was stored');
    // It ends once the file's bytes are on disk.
    await pipeline(body, new DurableFileWriter(file, WRITE_CHUNK));
  }

  /** Moves a finished scratch file to `key`; create-only via link(2), else rename(2). */
  private async place(file: string, key: string, createOnly: boolean): Promise<void> {
    const target = this.path(key);
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(dirname(target), { recursive: true });
      } catch (e) {
        // mkdir finds the directory there, then fails checking it: a delete has just pruned it.
        if (!isCode(e, 'ENOENT') || attempt >= PLACE_ATTEMPTS) throw e;
        continue;
      }
      try {
        if (createOnly) await link(file, target);
        else await rename(file, target);
        break;
      } catch (e) {
        if (isCode(e, 'EEXIST')) throw new KeyExistsError(key);
        // A delete that empties the directory prunes it, also between our mkdir and link, and
        // each delete of a key in it can: make it again. Each retry needs another delete to
        // empty it anew, so a few attempts are plenty.
        if (!isCode(e, 'ENOENT') || attempt >= PLACE_ATTEMPTS) throw e;
      }
    }
    await this.syncDir(dirname(target));
  }

  private async syncDir(dir: string): Promise<void> {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private async pruneEmptyParents(dir: string): Promise<void> {
    while (dir.startsWith(this.root + sep) && dir !== this.root) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty, already gone, or busy: all fine
      }
      dir = dirname(dir);
    }
  }

  /**
   * Lists files under `dir` whose keys start with `prefix`. Each directory is read
   * synchronously, which is much faster than the thread-pool round trips of
   * async readdir for the many small directories of the layout
   * (docs/benchmarks.md#cold-start); the walk yields to the event loop every few
   * directories so requests keep flowing meanwhile.
   */
  private async walk(dir: string, prefix: string, out: ObjectInfo[]): Promise<void> {
    // Paths and keys grow by concatenation: path.join/relative per entry cost much of a
    // cold start with many names (docs/benchmarks.md#cold-start).
    const rootKey = relative(this.root, dir).split(sep).join('/');
    const queue: { path: string; key: string }[] = [{ path: dir, key: rootKey }];
    for (let i = 0; i < queue.length; i++) {
      if (i % YIELD_EVERY_DIRS === YIELD_EVERY_DIRS - 1) await setImmediate();
      const parent = queue[i]!;
      let entries;
      try {
        entries = readdirSync(parent.path, { withFileTypes: true });
      } catch (e) {
        if (isCode(e, 'ENOENT') || isCode(e, 'ENOTDIR')) continue;
        throw e;
      }
      for (const entry of entries) {
        const path = parent.path + sep + entry.name;
        const key = parent.key ? `${parent.key}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          if ((key + '/').startsWith(prefix) || prefix.startsWith(key + '/')) queue.push({ path, key });
        } else if (entry.isFile() && key.startsWith(prefix)) {
          const s = statSync(path, { throwIfNoEntry: false });
          if (s) out.push({ key, size: s.size, modified: s.mtime });
        }
      }
    }
  }
}

/** Creates `file` (which must not exist yet) with `bytes`, and returns once they are on disk. */
async function writeSynced(file: string, bytes: Buffer): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
