/**
 * Paths marked with a number (here: the highest layer that did something to the
 * path), kept as 64-bit keyed hashes in typed arrays rather than a Map of
 * strings: an image's layers may hold a million paths of several KiB each
 * (the same reasoning as src/aci/name-set.ts). Two paths collide with
 * probability 2^-64 per pair; the seeds are random per process.
 */
import { randomBytes } from 'node:crypto';

const INITIAL_SLOTS = 1 << 10;
const NONE = -1;

const seeds = new Uint32Array(randomBytes(8).buffer);
const SEED_A = seeds[0]!;
const SEED_B = seeds[1]!;

function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function hashPath(path: string): [number, number] {
  let a = SEED_A;
  let b = SEED_B;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    a ^= a >>> 15;
    b = Math.imul(b + c, 0x5bd1e995);
    b ^= b >>> 13;
  }
  return [mix(a ^ path.length), mix(b)];
}

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
