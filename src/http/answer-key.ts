/**
 * The key an answer kept in memory is found under, made from the URL alone
 * (answers from memory are given before routing): its path, and the page of a
 * discovery page's list of names, normalised. No kept answer depends on any other
 * query parameter, so those are left out: junk in the query cannot make entries.
 * A path routing would read differently from its bytes (escapes, a `#` or `;`
 * cut, empty or dot segments, a trailing slash) has no key: its answer is neither
 * looked up nor kept, so one resource spelt many ways cannot fill memory either.
 */
const UNCLEAN_PATH = /[%#;\\]|\/\/|\/\.|.\/$/;

/** `?page=N`: digits, leading zeros ignored; anything else, or the parameter given twice, is the first page. */
export function requestedPage(value: unknown): number {
  return typeof value === 'string' && /^\d+$/.test(value) ? Math.max(1, Number(value)) : 1;
}

/** `path`, or `path?page=N` past the first page: what a page of names is kept under. */
export const pageKey = (path: string, page: number): string => (page > 1 ? `${path}?page=${page}` : path);

export const pathOf = (url: string): string => {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
};

export function answerKey(url: string): string | undefined {
  const path = pathOf(url);
  if (UNCLEAN_PATH.test(path)) return undefined;
  const query = url.slice(path.length + 1);
  // Most queries are `ac-discovery=1`, with no page to read.
  if (!query.includes('page') && !query.includes('%')) return path;
  const pages = new URLSearchParams(query).getAll('page');
  return pageKey(path, pages.length === 1 ? requestedPage(pages[0]) : 1);
}
