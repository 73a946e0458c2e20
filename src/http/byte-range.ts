import type { ByteRange } from '../storage/storage.ts';

/** More ranges than any client needs for one file: such a header is ignored, not worked through. */
const MAX_RANGES = 100;

const INT_RANGE = /^(\d+)-(\d*)$/;
const SUFFIX_RANGE = /^-(\d+)$/;

/**
 * The one byte range a Range header selects from `size` bytes, by RFC 9110
 * §14.1.2 and §14.2:
 *   - a range, its last position clipped to the end, and a suffix longer than
 *     the file meaning the whole file;
 *   - 'unsatisfiable' (416) when none of its ranges starts inside the file;
 *   - undefined, to send the whole file with 200: another unit, invalid syntax
 *     (a last position before the first, anything not digits), or several
 *     ranges that do not join into one (which the server may ignore).
 */
export function selectRange(size: number, header: string): ByteRange | 'unsatisfiable' | undefined {
  const eq = header.indexOf('=');
  // Range units are case-insensitive.
  if (eq === -1 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return undefined;
  const specs = header
    .slice(eq + 1)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== ''); // a list may hold empty elements
  if (specs.length === 0 || specs.length > MAX_RANGES) return undefined;
  const ranges: ByteRange[] = [];
  for (const spec of specs) {
    const int = INT_RANGE.exec(spec);
    if (int) {
      const first = Number(int[1]);
      const last = int[2] === '' ? Infinity : Number(int[2]);
      if (last < first) return undefined;
      if (first < size) ranges.push({ start: first, end: Math.min(last, size - 1) });
      continue;
    }
    const suffix = SUFFIX_RANGE.exec(spec);
    if (!suffix) return undefined;
    const length = Number(suffix[1]);
    if (length > 0 && size > 0) ranges.push({ start: Math.max(0, size - length), end: size - 1 });
  }
  if (ranges.length === 0) return 'unsatisfiable';
  ranges.sort((a, b) => a.start - b.start);
  const joined = ranges[0]!;
  for (const r of ranges.slice(1)) {
    // Overlapping or adjacent ranges are one range.
    if (r.start > joined.end + 1) return undefined;
    joined.end = Math.max(joined.end, r.end);
  }
  return joined;
}
