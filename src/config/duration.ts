const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** Parses "90d", "12h", "30m", "45s", "2w", "1y" into seconds; null when unreadable. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,6})([smhdwy])$/.exec(text.trim());
  if (!m) return null;
  const seconds = Number(m[1]) * UNITS[m[2]!]!;
  return seconds > 0 ? seconds : null;
}

/** The inverse of parseDuration: seconds in the largest unit that divides them (7776000 -> "90d"). */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0';
  const [unit, size] = Object.entries(UNITS)
    .sort((a, b) => b[1] - a[1])
    .find(([, size]) => seconds % size === 0)!;
  return `${seconds / size}${unit}`;
}
