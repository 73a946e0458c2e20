/**
 * Lexical path handling for tar entry names and link targets. Names arrive as
 * "byte strings" (one char per byte, see tar-entry.ts), so lengths are bytes and
 * nothing here depends on the names being valid UTF-8.
 */

/** Path segments with empty and '.' segments dropped, as Go's path.Clean would. */
export function pathSegments(path: string): string[] {
  return path.split('/').filter((s) => s !== '' && s !== '.');
}

const MAX_SHOWN = 120;

/** A name fit for an error message: decoded as UTF-8, JSON-escaped, cut short. */
export function showPath(byteString: string): string {
  const text = Buffer.from(byteString, 'latin1').toString('utf8');
  return JSON.stringify(text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}...` : text);
}
