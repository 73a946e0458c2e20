import semver from 'semver';
import type { VersionRecord } from './version-record.ts';
import { compareStrings } from '../../util/compare-strings.ts';

// The tutorials tag `v0.0.1`: a leading v still counts as semver (docs/tutorial.md#8-fetch-rkt-fetch).
const asSemver = (v: string): string | null => semver.valid(v.replace(/^v(?=\d)/, ''));

/**
 * Orders versions for `latest`: semver versions by precedence (prereleases below
 * their release) rank above versions that do not parse, which rank by push time.
 * Returns a negative number when `a` ranks below `b`.
 */
export function compareVersions(a: VersionRecord, b: VersionRecord): number {
  const sa = asSemver(a.version);
  const sb = asSemver(b.version);
  if (sa && sb) return semver.compare(sa, sb) || compareStrings(a.pushedAt, b.pushedAt);
  if (sa) return 1;
  if (sb) return -1;
  return compareStrings(a.pushedAt, b.pushedAt) || compareStrings(a.version, b.version);
}

export function highestVersion(records: Iterable<VersionRecord>): VersionRecord | undefined {
  let best: VersionRecord | undefined;
  for (const r of records) if (!best || compareVersions(r, best) > 0) best = r;
  return best;
}
