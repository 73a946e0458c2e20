/** Repetitions in turns: acihost and the reference alternate, so drifting noise falls on both. */

export async function inTurns<T>(
  runs: number,
  acihost: () => Promise<T>,
  reference: () => Promise<T>,
): Promise<{ acihost: T[]; reference: T[] }> {
  const out = { acihost: [] as T[], reference: [] as T[] };
  for (let r = 0; r < runs; r++) {
    // Alternate who goes first, so neither always runs on a machine the other has just warmed or loaded.
    if (r % 2 === 0) {
      out.acihost.push(await acihost());
      out.reference.push(await reference());
    } else {
      out.reference.push(await reference());
      out.acihost.push(await acihost());
    }
  }
  return out;
}
