/**
 * The entry names seen so far in one archive, for duplicate and hard-link
 * checks over up to a million entries.
 *
 * Why not a Set of strings: a hostile archive can carry a million names of
 * several KiB each, gigabytes of strings; honest ones still cost several times
 * what their hashes do (docs/benchmarks.md#resident-memory). This keeps a 64-bit
 * keyed hash per name in typed arrays (9 bytes a slot, at most half full: under
 * 20 MB per million entries).
 *
 * Two different names collide with probability 2^-64 per pair; a collision can
 * only refuse an archive (a false duplicate), never admit one. The seeds are
 * random per process, so nobody can prepare names that all share a bucket.
 */
import { hashPath } from '../util/path-hash.ts';

/** What a stored name was: hard links may only point at non-directories. */
export type EntryKind = 'directory' | 'other';

const EMPTY = 0;
const KIND_CODE = { other: 1, directory: 2 } as const;
const INITIAL_SLOTS = 1 << 12;

export class NameSet {
  #a = new Uint32Array(INITIAL_SLOTS);
  #b = new Uint32Array(INITIAL_SLOTS);
  #kind = new Uint8Array(INITIAL_SLOTS);
  #count = 0;

  get size(): number {
    return this.#count;
  }

  /** Adds a name; false (and nothing changes) if it was already there. */
  add(name: string, kind: EntryKind): boolean {
    const [a, b] = hashPath(name);
    const slot = this.#find(a, b);
    if (this.#kind[slot] !== EMPTY) return false;
    this.#put(slot, a, b, KIND_CODE[kind]);
    if (++this.#count * 2 > this.#kind.length) this.#grow();
    return true;
  }

  /** The kind a name was added with, or undefined if it never was. */
  kindOf(name: string): EntryKind | undefined {
    const [a, b] = hashPath(name);
    const code = this.#kind[this.#find(a, b)];
    if (code === KIND_CODE.directory) return 'directory';
    return code === KIND_CODE.other ? 'other' : undefined;
  }

  /** Linear probing: the slot holding (a, b), or the empty slot where it belongs. */
  #find(a: number, b: number): number {
    const mask = this.#kind.length - 1;
    let slot = a & mask;
    while (this.#kind[slot] !== EMPTY && (this.#a[slot] !== a || this.#b[slot] !== b)) {
      slot = (slot + 1) & mask;
    }
    return slot;
  }

  #put(slot: number, a: number, b: number, code: number): void {
    this.#a[slot] = a;
    this.#b[slot] = b;
    this.#kind[slot] = code;
  }

  #grow(): void {
    const [oldA, oldB, oldKind] = [this.#a, this.#b, this.#kind];
    this.#a = new Uint32Array(oldKind.length * 2);
    this.#b = new Uint32Array(oldKind.length * 2);
    this.#kind = new Uint8Array(oldKind.length * 2);
    for (let i = 0; i < oldKind.length; i++) {
      if (oldKind[i] !== EMPTY) this.#put(this.#find(oldA[i]!, oldB[i]!), oldA[i]!, oldB[i]!, oldKind[i]!);
    }
  }
}
