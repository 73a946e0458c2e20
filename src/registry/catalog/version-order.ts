import semver, { type SemVer } from 'semver';
import type { VersionRecord } from './version-record.ts';
import { compareStrings } from '../../util/compare-strings.ts';

// Each record's version parsed once: `latest` and retention compare a name's versions over and over.
const parsed = new WeakMap<VersionRecord, SemVer | null>();

// The tutorials tag `v0.0.1`: a leading v still counts as semver (docs/tutorial.md#8-fetch-rkt-fetch).
function asSemver(record: VersionRecord): SemVer | null {
  let version = parsed.get(record);
  if (version === undefined) parsed.set(record, (version = semver.parse(record.version.replace(/^v(?=\d)/, ''))));
  return version;
}

/**
 * Orders versions for `latest`: semver versions by precedence (prereleases below
 * their release) rank above versions that do not parse, which rank by push time.
 * Returns a negative number when `a` ranks below `b`.
 */
export function compareVersions(a: VersionRecord, b: VersionRecord): number {
  const sa = asSemver(a);
  const sb = asSemver(b);
  if (sa && sb) return sa.compare(sb) || compareStrings(a.pushedAt, b.pushedAt);
  if (sa) return 1;
  if (sb) return -1;
  return compareStrings(a.pushedAt, b.pushedAt) || compareStrings(a.version, b.version);
}

export function highestVersion(records: Iterable<VersionRecord>): VersionRecord | undefined {
  let best: VersionRecord | undefined;
  for (const r of records) if (!best || compareVersions(r, best) > 0) best = r;
  return best;
}
