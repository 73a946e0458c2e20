/** Medians and spreads of repeated measurements. */

export interface Summary {
  runs: number[];
  median: number;
  /** (max - min) / median: how far apart the repetitions were. */
  spread: number;
}

export function summarize(runs: number[]): Summary {
  if (runs.length === 0) throw new Error('no runs to summarize');
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const spread = median === 0 ? 0 : (sorted[sorted.length - 1]! - sorted[0]!) / median;
  return { runs, median, spread };
}

export const MiB = 1024 * 1024;
