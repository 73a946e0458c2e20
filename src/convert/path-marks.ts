/**
 * Paths marked with a number (here: the highest layer that did something to the
 * path), kept as 64-bit keyed hashes in typed arrays rather than a Map of
 * strings: an image's layers may hold a million paths of several KiB each
 * (the same reasoning as src/aci/name-set.ts). Two paths collide with
 * probability 2^-64 per pair; the seeds are random per process.
 */
import { hashPath } from '../util/path-hash.ts';

const INITIAL_SLOTS = 1 << 10;
const NONE = -1;

export class PathMarks {
  #a = new Uint32Array(INITIAL_SLOTS);
  #b = new Uint32Array(INITIAL_SLOTS);
  #value = new Int32Array(INITIAL_SLOTS).fill(NONE);
  #count = 0;

  /** The path's mark, or -1 if it has none. */
  get(path: string): number {
    const [a, b] = hashPath(path);
    return this.#value[this.#find(a, b)]!;
  }

  /** Marks the path with `value` (>= 0) unless it has a mark; returns false if it had one. */
  markFirst(path: string, value: number): boolean {
    const [a, b] = hashPath(path);
    const slot = this.#find(a, b);
    if (this.#value[slot] !== NONE) return false;
    this.#a[slot] = a;
    this.#b[slot] = b;
    this.#value[slot] = value;
    if (++this.#count * 2 > this.#value.length) this.#grow();
    return true;
  }

  #find(a: number, b: number): number {
    const mask = this.#value.length - 1;
    let slot = a & mask;
    while (this.#value[slot] !== NONE && (this.#a[slot] !== a || this.#b[slot] !== b)) slot = (slot + 1) & mask;
    return slot;
  }

  #grow(): void {
    const [oldA, oldB, oldValue] = [this.#a, this.#b, this.#value];
    this.#a = new Uint32Array(oldValue.length * 2);
    this.#b = new Uint32Array(oldValue.length * 2);
    this.#value = new Int32Array(oldValue.length * 2).fill(NONE);
    for (let i = 0; i < oldValue.length; i++) {
      if (oldValue[i] === NONE) continue;
      const slot = this.#find(oldA[i]!, oldB[i]!);
      this.#a[slot] = oldA[i]!;
      this.#b[slot] = oldB[i]!;
      this.#value[slot] = oldValue[i]!;
    }
  }
}
