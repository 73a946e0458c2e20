/**
 * Where the symlinks of an archive lead once extracted. A textual check of one
 * target is not enough: `d1/d2 -> ..` and then `l -> d1/d2/..` each look inside
 * rootfs, yet `l` resolves to rootfs's parent. This models an extractor: every
 * entry lands where its parent path leads through the links already extracted,
 * a file or directory landing on a link replaces it, a hard link to a symlink is
 * another symlink, and every link target is resolved through the links, as the
 * kernel would. Absolute targets resolve from rootfs, as rkt extracts inside it,
 * and '..' at that root stays there; a relative climb above rootfs escapes.
 *
 * Links are checked as they arrive and again at the end (a later link can change
 * where an earlier one leads, and a later entry can replace a link of a loop). The work is bounded: 255 links followed in one
 * resolution, as Linux's ELOOP allows 40 and tar would stop, a total number of
 * steps for the whole archive, and the bytes of link names and targets kept.
 */
import { invalid, isAcihostError, tooLarge } from '../errors.ts';
import { pathSegments, showPath } from './entry-path.ts';

export const MAX_LINK_HOPS = 255;
/** Characters of paths looked up across the whole archive: each step hashes the path so far. */
const MAX_TOTAL_WORK = 128 * 1024 * 1024;
const MAX_LINK_BYTES = 64 * 1024 * 1024;

/** Where a path leads: outside rootfs, or to these segments below it. */
type Resolution = { escapes: true } | { escapes: false; segments: string[] };

export class RootfsLinks {
  /** Real location under rootfs ('a/b') to the link's target, as archived. */
  readonly #links = new Map<string, string>();
  #bytes = 0;
  #work = 0;
  /** A link looped when it arrived: finish() must look at every link again. */
  #unsettled = false;

  /**
   * Where an entry named `segments` (below rootfs) lands: its parent followed
   * through the links, its last segment not. Throws if the parent leads outside.
   */
  place(segments: readonly string[], entryName: string): string[] {
    if (this.#links.size === 0) return [...segments];
    const parent = this.#resolve([], segments.slice(0, -1), false, entryName);
    if (parent.escapes) throw this.#escapes(entryName, '');
    return [...parent.segments, segments[segments.length - 1]!];
  }

  /** The target of the link at `location`, if a symlink was extracted there. */
  linkAt(location: readonly string[]): string | undefined {
    return this.#links.get(location.join('/'));
  }

  /** A symlink extracted at `location`; refused if its target leads outside rootfs. */
  addSymlink(location: readonly string[], target: string, entryName: string): void {
    const key = location.join('/');
    if (!this.#links.has(key)) this.#bytes += key.length + target.length;
    if (this.#bytes > MAX_LINK_BYTES) {
      throw tooLarge(
        'ARCHIVE_TOO_MANY_LINKS',
        `the archive's symlinks hold more than ${MAX_LINK_BYTES / 1024 / 1024} MiB of names and targets, the most this server ` +
          'resolves; replace most of them with files or directories',
      );
    }
    this.#links.set(key, target);
    try {
      this.#check(key, target, entryName);
    } catch (e) {
      // A loop can still be broken by a later entry landing on one of its links, and nothing
      // can be written through it meanwhile (placing an entry there fails on the loop): the
      // end of the archive decides. An escape is refused at once.
      if (!(isAcihostError(e) && e.code === 'ARCHIVE_LINK_LOOP')) throw e;
      this.#unsettled = true;
    }
  }

  /** A file or directory extracted at `location` replaces a link there. */
  replace(location: readonly string[]): void {
    const key = location.join('/');
    const target = this.#links.get(key);
    if (target === undefined) return;
    this.#links.delete(key);
    this.#bytes -= key.length + target.length;
  }

  /** Every link again, as the whole archive leaves them. */
  finish(): void {
    if (this.#links.size < 2 && !this.#unsettled) return;
    for (const [key, target] of this.#links) this.#check(key, target, `rootfs/${key}`);
  }

  #check(key: string, target: string, entryName: string): void {
    const location = key.split('/');
    const resolved = this.#resolve(location.slice(0, -1), pathSegments(target), target.startsWith('/'), entryName);
    if (resolved.escapes) throw this.#escapes(entryName, target);
  }

  /**
   * Walks `components` from `base`, substituting every link met (the last one
   * too). `absolute` starts at rootfs, where '..' stays put.
   */
  #resolve(base: readonly string[], components: readonly string[], absolute: boolean, entryName: string): Resolution {
    const stack = absolute ? [] : [...base];
    // keys[i]: the first i+1 segments joined, so a lookup does not join the whole path again.
    const keys: string[] = [];
    for (const s of stack) keys.push(keys.length === 0 ? s : `${keys[keys.length - 1]}/${s}`);
    let atRootStays = absolute;
    const pending = [...components].reverse();
    let hops = 0;
    while (pending.length > 0) {
      if (++this.#work > MAX_TOTAL_WORK) throw this.#loop(entryName, 'the archive needs too many steps to resolve its links');
      const c = pending.pop()!;
      if (c === '..') {
        if (stack.length > 0) {
          stack.pop();
          keys.pop();
        } else if (!atRootStays) return { escapes: true };
        continue;
      }
      stack.push(c);
      const key = keys.length === 0 ? c : `${keys[keys.length - 1]}/${c}`;
      keys.push(key);
      if (this.#links.size === 0) continue;
      this.#work += key.length;
      const target = this.#links.get(key);
      if (target === undefined) continue;
      if (++hops > MAX_LINK_HOPS) throw this.#loop(entryName, `resolving it follows more than ${MAX_LINK_HOPS} links`);
      stack.pop();
      keys.pop();
      if (target.startsWith('/')) {
        stack.length = 0;
        keys.length = 0;
        atRootStays = true;
      }
      const next = pathSegments(target);
      for (let i = next.length - 1; i >= 0; i--) pending.push(next[i]!);
    }
    return { escapes: false, segments: stack };
  }

  #escapes(entryName: string, target: string) {
    const what =
      target === ''
        ? `the entry ${showPath(entryName)} lies`
        : `the symlink ${showPath(entryName)} points to ${showPath(target)}, which leads`;
    return invalid(
      'ARCHIVE_LINK_ESCAPES',
      `${what} outside rootfs once the symlinks archived with it are followed; ` +
        'use link targets that stay inside the image (an absolute target resolves inside the container)',
    );
  }

  #loop(entryName: string, why: string) {
    return invalid(
      'ARCHIVE_LINK_LOOP',
      `the symlinks cannot be resolved at ${showPath(entryName)}: ${why}; remove the link loop or shorten the chain`,
    );
  }
}
