/**
 * Evaluated by the entry point before the rest of the program loads (src/cli.ts), so
 * the young-generation policy holds while it does; library modules import nothing
 * with side effects.
 */
import { applyHeapPolicy } from './heap-policy.ts';

applyHeapPolicy();
