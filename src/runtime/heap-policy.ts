/**
 * How V8 sizes the young generation in a server process. Left to itself it
 * doubles the young generation after bursts of surviving allocations and keeps
 * it, and a registry streams hundreds of MiB through short-lived buffers that V8
 * frees only at a scavenge: with scavenges that far apart, the dead buffers alone
 * take a lot of memory. Held at its initial size instead, answering small requests
 * scavenges often: at concurrency 1 the p99 is then a scavenge, and at high
 * concurrency objects of requests in flight are promoted and the old generation's
 * collections stall answers. The figures are in
 * docs/benchmarks.md#young-generation-and-garbage-collection.
 *
 * So the young generation grows only when the process was started with a bound
 * on it (`--max-semi-space-size`, which `serve` makes sure of: src/cli/launch.ts), and
 * otherwise keeps the growth factor at 1, which mostly holds it small (V8
 * reads the factor each time it considers growing). And code that streams large
 * bodies reports their bytes (`streamed`): after every RELEASE_EVERY of them a
 * scavenge frees the buffers they left behind, whatever the young generation's
 * size, so a push holds about RELEASE_EVERY bytes of dead buffers; a scavenge is
 * cheap enough that push speeds do not change.
 *
 * Allocation-site pretenuring is off. V8 allocates the objects of a site straight
 * in the old generation once many of them survived a scavenge, and a push keeps
 * the event loop busy for seconds, so every request's objects survive then. After
 * it, the objects of every answer went to the old generation and died there: it
 * filled in a fraction of a second, a full collection followed, and the same
 * process answered discovery a fifth slower than one that had taken no push
 * (docs/benchmarks.md#young-generation-and-garbage-collection).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { semiSpaceBound } from './runtime-settings.ts';

export { semiSpaceBound };

/** The largest bound on the young generation (MiB per semi-space) that lets it grow. */
const MAX_BOUNDED_SEMI_SPACE_MIB = 8;
const RELEASE_EVERY = 1024 * 1024;

/** What the server hands to code that streams large bodies or reads the whole catalogue. */
export interface HeapTuning {
  /** Counts bytes of a large body passing through; frees dead buffers every RELEASE_EVERY bytes. */
  streamed(bytes: number): void;
  /**
   * A full collection, after work that read the whole catalogue (a sweep: it lists
   * every record, after a start reads each again, and writes the snapshot). Its
   * garbage outlives scavenges into the old generation, which V8 otherwise gives
   * back only when its memory reducer runs, seconds later, and a push in that
   * window peaked higher (docs/design.md#memory). With the runtime settings `serve`
   * gives itself it is short, and runs once a sweep.
   */
  collectAll(): void;
}

/** Sets the young generation's growth from the bound the process was started with, and turns pretenuring off. */
export function applyHeapPolicy(): void {
  const bound = semiSpaceBound(process.execArgv, process.env.NODE_OPTIONS);
  const grows = bound !== undefined && bound <= MAX_BOUNDED_SEMI_SPACE_MIB;
  setFlagsFromString(`--semi-space-growth-factor=${grows ? 2 : 1}`);
  setFlagsFromString('--no-allocation-site-pretenuring');
}

let tuning: HeapTuning | undefined;

/** The process's one tuning; the first call exposes gc() to it alone. */
export function heapTuning(): HeapTuning {
  if (tuning) return tuning;
  setFlagsFromString('--expose-gc');
  // A fresh context sees the flag; the program's own global stays without gc().
  const collect = runInNewContext('gc') as (options: { type: 'minor' | 'major' }) => void;
  let unreleased = 0;
  tuning = {
    streamed(bytes) {
      unreleased += bytes;
      if (unreleased < RELEASE_EVERY) return;
      unreleased = 0;
      collect({ type: 'minor' });
    },
    collectAll: () => collect({ type: 'major' }),
  };
  return tuning;
}
