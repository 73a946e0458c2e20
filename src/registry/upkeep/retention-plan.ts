import { compareStrings } from '../../util/compare-strings.ts';
import type { Catalog } from '../catalog/catalog.ts';
import { compareVersions, highestVersion } from '../catalog/version-order.ts';
import type { VersionRecord } from '../catalog/version-record.ts';
import { governingPolicy, protectPattern, removesAnything, type RetentionPolicy } from './retention-policies.ts';

/** One version a plan removes, and the prefix of the policy that removes it. */
export interface Removal {
  record: VersionRecord;
  policy: string;
}

export interface RetentionPlan {
  removals: Removal[];
  /** What removing them frees: each version has a blob of its own. */
  bytes: number;
}

/** Newest push first; versions pushed in the same millisecond by version order, highest first. */
const newestFirst = (a: VersionRecord, b: VersionRecord) => compareStrings(b.pushedAt, a.pushedAt) || compareVersions(b, a);

/**
 * The versions of one name and os/arch that no rule keeps, oldest push first. A version is
 * kept when any of these holds: it is what `latest` resolves to; it was pushed within the
 * grace period; `protect` matches it; it is among the `keep` most recently pushed; it was
 * pushed within `maxAge`. A policy with neither `keep` nor `maxAge` removes nothing.
 */
export function expiredVersions(
  versions: readonly VersionRecord[],
  policy: RetentionPolicy,
  protect: RegExp | null,
  now: number,
): VersionRecord[] {
  if (!removesAnything(policy)) return [];
  const latest = highestVersion(versions);
  const expired: VersionRecord[] = [];
  [...versions].sort(newestFirst).forEach((r, rank) => {
    const ageMs = now - Date.parse(r.pushedAt);
    const kept =
      r === latest ||
      ageMs < policy.graceSeconds * 1000 ||
      protect?.test(r.version) === true ||
      (policy.keep !== null && rank < policy.keep) ||
      (policy.maxAgeSeconds !== null && ageMs <= policy.maxAgeSeconds * 1000);
    if (!kept) expired.push(r);
  });
  return expired.reverse();
}

/**
 * What the policies remove among the names equal to or below `prefix`, in name order, then
 * os/arch, then oldest push first. Each name is judged by its governing policy, which may be
 * set on a prefix above `prefix`.
 */
export function planRetention(catalog: Catalog, policies: readonly RetentionPolicy[], prefix: string, now: number): RetentionPlan {
  const patterns = new Map(policies.map((p) => [p.prefix, p.protect === null ? null : protectPattern(p.protect)]));
  const removals: Removal[] = [];
  let bytes = 0;
  for (const name of catalog.namesCovered(prefix, undefined, Infinity)) {
    const policy = governingPolicy(policies, name);
    if (!policy || !removesAnything(policy)) continue;
    for (const versions of catalog.platformsOf(name)) {
      for (const record of expiredVersions(versions, policy, patterns.get(policy.prefix)!, now)) {
        removals.push({ record, policy: policy.prefix });
        bytes += record.size;
      }
    }
  }
  return { removals, bytes };
}

/** Removals under `prefix` as the API and the CLI's --json show them. */
export function removalsJson(prefix: string, { removals, bytes }: RetentionPlan) {
  const versions = removals.map(({ record: { name, version, os, arch, size, pushedAt }, policy }) => ({
    name,
    version,
    os,
    arch,
    size,
    pushedAt,
    policy,
  }));
  return { prefix, versions, count: removals.length, bytes };
}
