/**
 * A 64-bit keyed hash of a path as two 32-bit lanes, for sets and maps of paths kept in
 * typed arrays rather than strings (an archive may hold a million paths of several KiB).
 * Two paths collide with probability 2^-64 per pair; the seeds are random per process,
 * so an archive cannot be built to collide.
 */
import { randomBytes } from 'node:crypto';

const seeds = new Uint32Array(randomBytes(8).buffer);
const SEED_A = seeds[0]!;
const SEED_B = seeds[1]!;

/** Murmur3's finaliser: spreads every input bit over the whole word. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Two independent 32-bit lanes over the path's UTF-16 code units. */
export function hashPath(path: string): [number, number] {
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
