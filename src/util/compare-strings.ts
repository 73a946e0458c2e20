/**
 * Orders strings by UTF-16 code unit, as `<` does. Every string sorted here is
 * an ISO timestamp, a fingerprint, a version or an os/arch label, for which
 * locale rules add nothing, and `localeCompare` would page in ICU's collation
 * data, megabytes of resident memory, on the first push or page
 * (docs/benchmarks.md#resident-memory).
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
