/**
 * The process settings the server's memory figures were measured with (docs/benchmarks.md): a
 * glibc mmap threshold fixed at 128 KiB, so that buffers of large transfers are
 * mapped and go back to the system when freed (a threshold left to grow kept the heap
 * grown by a download's socket buffers), and V8 semi-spaces bounded at 4 MiB
 * (src/runtime/heap-policy.ts). glibc reads its variable only as a process starts, so
 * `serve` re-executes itself once when either is missing (src/cli/launch.ts).
 */

export const MMAP_THRESHOLD_VARIABLE = 'MALLOC_MMAP_THRESHOLD_';
export const MMAP_THRESHOLD_BYTES = '131072';
export const SEMI_SPACE_FLAG = '--max-semi-space-size=4';

/** The semi-space bound given on the command line or in NODE_OPTIONS, in MiB. */
export function semiSpaceBound(execArgv: readonly string[], nodeOptions: string | undefined): number | undefined {
  const flags = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].join(' ');
  const bound = /--max[-_]semi[-_]space[-_]size[= ](\d+)/.exec(flags)?.[1];
  return bound === undefined ? undefined : Number(bound);
}

/**
 * The environment and Node options to run the server with, or undefined when the
 * process has both settings already. Values the operator gave are kept as they are.
 */
export function missingSettings(
  env: NodeJS.ProcessEnv,
  execArgv: readonly string[],
): { env: NodeJS.ProcessEnv; execArgv: string[] } | undefined {
  const hasThreshold = env[MMAP_THRESHOLD_VARIABLE] !== undefined;
  const hasBound = semiSpaceBound(execArgv, env.NODE_OPTIONS) !== undefined;
  if (hasThreshold && hasBound) return undefined;
  return {
    env: hasThreshold ? env : { ...env, [MMAP_THRESHOLD_VARIABLE]: MMAP_THRESHOLD_BYTES },
    execArgv: hasBound ? [...execArgv] : [...execArgv, SEMI_SPACE_FLAG],
  };
}
