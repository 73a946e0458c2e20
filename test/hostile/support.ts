/**
 * What every hostile case asserts besides its status and body: storage holds
 * what it held before, no scratch file is left under tmp/, and the server (which
 * runs in this test process) holds no descriptor into its storage directory.
 */
import { readdir, readlink } from 'node:fs/promises';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { scratchFiles, storageSnapshot } from '../helpers/storage-snapshot.ts';

/** Paths of this process's open descriptors that lie under `dir`. */
export async function descriptorsUnder(dir: string): Promise<string[]> {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return targets.filter((t) => t.startsWith(dir + '/')).sort();
}

export interface Unharmed {
  /** Resolves once storage is as it was, tmp/ is empty and no descriptor points into storage. */
  check(): Promise<void>;
}

/**
 * Takes the "before" picture; `check()` compares against it. Cleanup after an
 * aborted request runs when the server notices the close, so `check()` polls
 * for up to `waitMs` before it fails with what is still left.
 */
export async function unharmed(storageDir: string, waitMs = 5000): Promise<Unharmed> {
  const before = await storageSnapshot(storageDir);
  return {
    async check() {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const [now, scratch, fds] = await Promise.all([storageSnapshot(storageDir), scratchFiles(storageDir), descriptorsUnder(storageDir)]);
        const clean = JSON.stringify(now) === JSON.stringify(before) && scratch.length === 0 && fds.length === 0;
        if (clean) return;
        if (Date.now() > deadline) {
          assert.deepEqual(now, before, 'storage changed');
          assert.deepEqual(scratch, [], 'scratch files left under tmp/');
          assert.deepEqual(fds, [], 'descriptors left open into storage');
        }
        await sleep(50);
      }
    },
  };
}

/** Internal names that must never reach a client in a response body. */
export const INTERNAL_WORDS = /ENOENT|ENAMETOOLONG|EACCES|EISDIR|ENOTDIR|EINVAL|at \w+ \(|node:internal|storage key refused|checked-storage|\bstack\b/;

export function assertNoInternals(body: string): void {
  assert.doesNotMatch(body, INTERNAL_WORDS, `response body names internals: ${body.slice(0, 300)}`);
}
