/**
 * How conversions are named. A tag becomes the version of the same name, except `latest`,
 * which in appc means "the highest version" rather than a label: the upstream `latest`, and
 * any image fetched by digest, become a digest-pinned version, `sha256-` and the first 16
 * hex digits of the platform's manifest digest. Pinned versions never move.
 */

const PINNED = /^sha256-[0-9a-f]{16}$/;

/** A Docker tag: what the distribution API allows after `:` (a version label allows it too). */
export const DOCKER_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export const pinnedVersion = (manifestDigest: string): string => `sha256-${manifestDigest.replace(/^sha256:/, '').slice(0, 16)}`;

export const isPinnedVersion = (version: string): boolean => PINNED.test(version);

/** The version a conversion of `tag` (none: by digest) publishes for the platform manifest `manifestDigest`. */
export function versionFor(tag: string | undefined, manifestDigest: string): string {
  return tag === undefined || tag === 'latest' ? pinnedVersion(manifestDigest) : tag;
}
