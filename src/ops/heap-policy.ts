/**
 * How V8 sizes the young generation in a server process. By default it doubles
 * the young generation (up to 32 MiB) after a burst of long-lived allocations,
 * such as loading a large catalogue or a spell of discovery traffic, and keeps it.
 * A registry then streams hundreds of MiB through short-lived buffers, which V8
 * frees only at a scavenge: with scavenges that far apart, the dead buffers
 * passed V8's external-memory limit and it ran a full collection every few
 * dozen MiB of a push (20 or more per 256 MiB with 10,000 names stored), and the
 * large young generation alone added 32 MiB to the resident set (bench/).
 *
 * Keeping the young generation at its initial size makes scavenges frequent
 * and cheap (little survives them) and keeps dead buffers few. The flag is read
 * each time V8 considers growing, so setting it at start takes effect.
 */
import { setFlagsFromString } from 'node:v8';

export function applyHeapPolicy(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}

// Applied as soon as this module is evaluated: src/cli.ts imports it first, so the policy
// holds while the rest of the program loads (evaluating the modules would already grow
// the young generation by a third of the resident set).
applyHeapPolicy();
