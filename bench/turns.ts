/** Repetitions in turns: acihost and the reference alternate, so drifting noise falls on both. */

export async function inTurns<T>(
  runs: number,
  acihost: () => Promise<T>,
  reference: () => Promise<T>,
): Promise<{ acihost: T[]; reference: T[] }> {
  const [a, r] = await inRotation(runs, [acihost, reference]);
  return { acihost: a!, reference: r! };
}

/**
 * Repetitions of several contenders in rotation: each run starts one later, so none
 * always runs on a machine another has just warmed or loaded. Results per contender,
 * in run order.
 */
export async function inRotation<T>(runs: number, contenders: (() => Promise<T>)[]): Promise<T[][]> {
  const out = contenders.map(() => [] as T[]);
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < contenders.length; k++) {
      const i = (r + k) % contenders.length;
      out[i]!.push(await contenders[i]!());
    }
  }
  return out;
}
