/**
 * The ACI layout rules, checked one tar entry at a time (appc/spec `spec/aci.md`,
 * `aci/layout.go` ValidateArchive), plus our hardening: no absolute paths, no
 * '..', no links out of rootfs, bounded entry count and path length.
 */
import { isUtf8 } from 'node:buffer';
import { invalid, tooLarge } from '../errors.ts';
import { pathSegments, showPath } from './entry-path.ts';
import { NameSet } from './name-set.ts';
import { RootfsLinks } from './rootfs-links.ts';
import type { TarEntry } from './tar-entry.ts';

export interface LayoutLimits {
  maxEntries: number;
  maxPathBytes: number;
}

/** What the inspector should do with an entry's body. */
export type EntryRole = 'manifest' | 'skip';

const BUILD_HINT = 'build the ACI with actool build or acbuild';

export class ArchiveLayout {
  readonly #limits: LayoutLimits;
  readonly #names = new NameSet();
  readonly #links = new RootfsLinks();
  #entries = 0;
  #hasManifest = false;
  #hasRootfs = false;

  constructor(limits: LayoutLimits) {
    this.#limits = limits;
  }

  get entries(): number {
    return this.#entries;
  }

  /** Checks one entry in archive order; throws the first rule it breaks. */
  accept(entry: TarEntry): EntryRole {
    this.#count();
    const segments = this.#segments(entry.name);
    if (segments.length === 0) return 'skip'; // the archive's own '.' entry
    const [top, ...rest] = segments as [string, ...string[]];
    if (top === 'manifest' && rest.length === 0) return this.#manifest(entry);
    if (top !== 'rootfs') {
      throw invalid(
        'ARCHIVE_UNEXPECTED_ENTRY',
        `entry ${showPath(entry.name)} is not allowed: an ACI holds only "manifest" and "rootfs/..."; ${BUILD_HINT}`,
      );
    }
    if (rest.length === 0) return this.#rootfs(entry);
    this.#content(entry, segments);
    return 'skip';
  }

  /** Checks what only the whole archive can show; call after the last entry. */
  finish(): void {
    if (!this.#hasManifest) {
      throw invalid('ARCHIVE_MANIFEST_MISSING', `the archive has no top-level "manifest" file; ${BUILD_HINT}`);
    }
    if (!this.#hasRootfs) {
      throw invalid('ARCHIVE_ROOTFS_MISSING', `the archive has no "rootfs" directory entry; ${BUILD_HINT}`);
    }
    this.#links.finish();
  }

  #count(): void {
    if (++this.#entries > this.#limits.maxEntries) {
      throw tooLarge(
        'ARCHIVE_TOO_MANY_ENTRIES',
        `the archive has more than ${this.#limits.maxEntries} entries, the most this server accepts; ` +
          'remove files from the image or split it with dependencies',
      );
    }
  }

  /** Bounds and cleans an entry name; refuses absolute paths and '..'. */
  #segments(path: string): string[] {
    this.#checkLength(path, 'path', path);
    // Names are byte strings here; rkt, gpg-era tooling and the page for people all assume UTF-8.
    if (!isUtf8(Buffer.from(path, 'latin1'))) {
      throw invalid(
        'ARCHIVE_NAME_NOT_UTF8',
        `entry ${showPath(path)} has a name that is not valid UTF-8; rename the file in rootfs and rebuild`,
      );
    }
    if (path.startsWith('/')) {
      throw invalid('ARCHIVE_PATH_ABSOLUTE', `entry ${showPath(path)} has an absolute path; ${BUILD_HINT}`);
    }
    const segments = pathSegments(path);
    if (segments.includes('..')) {
      throw invalid('ARCHIVE_PATH_TRAVERSAL', `entry ${showPath(path)} contains "..", which is not allowed; ${BUILD_HINT}`);
    }
    return segments;
  }

  /** Paths and link targets are bounded in bytes; a NUL can only come from a forged PAX record. */
  #checkLength(path: string, what: string, entryName: string): void {
    if (path.length > this.#limits.maxPathBytes) {
      throw invalid(
        'ARCHIVE_PATH_TOO_LONG',
        `the ${what} of entry ${showPath(entryName.slice(0, 60))} is ${path.length} bytes, over this server's ` +
          `limit of ${this.#limits.maxPathBytes}; shorten it`,
      );
    }
    if (path.includes('\0')) {
      throw invalid('ARCHIVE_CORRUPT', `the ${what} of an entry contains a NUL byte; the tar headers are corrupt`);
    }
  }

  #record(entry: TarEntry, cleaned: string): void {
    if (!this.#names.add(cleaned, entry.type === 'directory' ? 'directory' : 'other')) {
      throw invalid(
        'ARCHIVE_DUPLICATE_ENTRY',
        `entry ${showPath(cleaned)} appears more than once; an ACI must not repeat a path; ${BUILD_HINT}`,
      );
    }
  }

  #manifest(entry: TarEntry): EntryRole {
    if (entry.type !== 'file') {
      throw invalid('ARCHIVE_UNEXPECTED_ENTRY', `the top-level "manifest" is a ${entry.type}; it must be a regular file`);
    }
    this.#record(entry, 'manifest');
    this.#hasManifest = true;
    return 'manifest';
  }

  #rootfs(entry: TarEntry): EntryRole {
    if (entry.type !== 'directory') {
      throw invalid('ARCHIVE_UNEXPECTED_ENTRY', `the top-level "rootfs" is a ${entry.type}; it must be a directory`);
    }
    this.#record(entry, 'rootfs');
    this.#hasRootfs = true;
    return 'skip';
  }

  #content(entry: TarEntry, segments: string[]): void {
    if (entry.type === 'unsupported') {
      throw invalid(
        'ARCHIVE_ENTRY_TYPE_UNSUPPORTED',
        `entry ${showPath(entry.name)} has a tar type this server does not accept (such as a GNU sparse file); ` +
          'rebuild the ACI without sparse or multi-volume entries',
      );
    }
    if (entry.type === 'symlink') this.#checkSymlink(entry);
    const hardLinkTarget = entry.type === 'link' ? this.#checkHardLink(entry) : undefined;
    this.#record(entry, segments.join('/'));
    const location = this.#links.place(segments.slice(1), entry.name);
    // A hard link to a symlink is another symlink with the same target (link(2) does not follow it).
    const linkTarget =
      entry.type === 'symlink' ? entry.linkname : hardLinkTarget && this.#links.linkAt(this.#links.place(hardLinkTarget, entry.name));
    if (linkTarget !== undefined) this.#links.addSymlink(location, linkTarget, entry.name);
    else this.#links.replace(location);
  }

  #checkSymlink(entry: TarEntry): void {
    this.#checkLength(entry.linkname, 'symlink target', entry.name);
    if (entry.linkname === '') {
      throw invalid('ARCHIVE_LINK_ESCAPES', `the symlink ${showPath(entry.name)} has an empty target`);
    }
  }

  /**
   * A hard link must name an earlier non-directory entry under rootfs/, as extraction needs it.
   * Returns the target's segments below rootfs.
   */
  #checkHardLink(entry: TarEntry): string[] {
    this.#checkLength(entry.linkname, 'hard link target', entry.name);
    const target = pathSegments(entry.linkname);
    const inRootfs = !entry.linkname.startsWith('/') && !target.includes('..') && target.length > 1 && target[0] === 'rootfs';
    if (!inRootfs || this.#names.kindOf(target.join('/')) !== 'other') {
      throw invalid(
        'ARCHIVE_LINK_ESCAPES',
        `the hard link ${showPath(entry.name)} points to ${showPath(entry.linkname)}, which is not an earlier ` +
          'file inside rootfs; a hard link must name a file archived before it under rootfs/',
      );
    }
    return target.slice(1);
  }
}
