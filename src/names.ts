/**
 * appc names and labels (appc/spec `spec/types.md`, `schema/types/acidentifier.go`,
 * `acname.go`, `labels.go`), plus the rules our server adds on top of them.
 */
import { invalid } from './errors.ts';

/** AC Identifier: image names, label and annotation names, isolator names. */
export const AC_IDENTIFIER = /^[a-z0-9]+([-._~/][a-z0-9]+)*$/;

/** AC Name: mount point and port names (no dots, slashes or tildes). */
export const AC_NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;

export const isAcIdentifier = (s: string): boolean => AC_IDENTIFIER.test(s);

/**
 * Segment-aligned prefix match. appc discovery matches prefixes with a plain
 * HasPrefix (appc/spec#592), so 'a/team' would also claim 'a/teamx'; our
 * authorisation must not inherit that.
 */
export function prefixCovers(prefix: string, name: string): boolean {
  const p = prefix.replace(/\/+$/, '');
  if (p === '') return false;
  return name === p || name.startsWith(`${p}/`);
}

/** appc `types.ValidOSArch`: the os/arch pairs the schema library accepts. */
const VALID_OS_ARCH: Readonly<Record<string, readonly string[]>> = {
  linux: ['amd64', 'i386', 'aarch64', 'aarch64_be', 'armv6l', 'armv7l', 'armv7b', 'ppc64', 'ppc64le', 's390x'],
  freebsd: ['amd64', 'i386', 'arm'],
  darwin: ['x86_64', 'i386'],
};

/** Every os/arch pair an image can be published for. */
export const osArchPairs = (): [string, string][] =>
  Object.entries(VALID_OS_ARCH).flatMap(([os, arches]) => arches.map((arch): [string, string] => [os, arch]));

export function isValidOsArch(os: string, arch: string): boolean {
  // Object.hasOwn: 'constructor' or '__proto__' must not look like an os.
  return Object.hasOwn(VALID_OS_ARCH, os) && VALID_OS_ARCH[os]!.includes(arch);
}

/**
 * Lengths every storage backend holds. A name is one directory per `/`-separated
 * segment on the filesystem (at most 255 bytes each); the longest name, version
 * and os/arch together stay well inside an S3 key's 1024 bytes (src/aci/coordinates.ts
 * works out what is left for the bucket's key prefix). Names and labels are ASCII,
 * so bytes and characters agree.
 */
export const MAX_NAME_BYTES = 512;
export const MAX_NAME_SEGMENT_BYTES = 255;
/** version, os and arch: each becomes part of a storage key. */
export const MAX_LABEL_BYTES = 128;

const longestSegment = (name: string): number => Math.max(...name.split('/').map((s) => Buffer.byteLength(s)));

export const nameFits = (name: string): boolean =>
  Buffer.byteLength(name) <= MAX_NAME_BYTES && longestSegment(name) <= MAX_NAME_SEGMENT_BYTES;

export function assertNameFits(name: string): void {
  if (nameFits(name)) return;
  throw invalid(
    'NAME_TOO_LONG',
    `the image name ${JSON.stringify(name.slice(0, 80) + '...')} is ${Buffer.byteLength(name)} bytes with a part of ` +
      `${longestSegment(name)}; names may be at most ${MAX_NAME_BYTES} bytes, each /-separated part at most ` +
      `${MAX_NAME_SEGMENT_BYTES}, so that every storage backend can hold them; choose a shorter name`,
  );
}

/** Refuses a version, os or arch label over MAX_LABEL_BYTES. */
export function assertLabelFits(label: string, value: string): void {
  const bytes = Buffer.byteLength(value);
  if (bytes <= MAX_LABEL_BYTES) return;
  throw invalid(
    'LABEL_TOO_LONG',
    `the ${label} label is ${bytes} bytes; version, os and arch labels may be at most ${MAX_LABEL_BYTES} bytes, ` +
      'so that every storage backend can hold them; use a shorter value',
  );
}

/**
 * Versions become one URL path segment and one storage path segment, so they
 * must not carry '/', '%', '?', spaces or a leading dot.
 */
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;

/** A version a published image can have (`latest` included: it is a valid label, reserved only on push). */
export const isVersionLabel = (version: string): boolean => version.length <= MAX_LABEL_BYTES && VERSION_PATTERN.test(version);

export function assertPublishableVersion(version: string): void {
  assertLabelFits('version', version);
  if (!VERSION_PATTERN.test(version)) {
    throw invalid(
      'VERSION_INVALID',
      `the version label ${JSON.stringify(version)} cannot be published: use 1-${MAX_LABEL_BYTES} characters ` +
        'from letters, digits and . _ + ~ -, starting with a letter or digit (for example "1.0.0")',
    );
  }
  if (version === 'latest') {
    throw invalid(
      'VERSION_RESERVED',
      'the version label "latest" is reserved: the server resolves latest to the highest published version; ' +
        'give the image a real version such as "1.0.0"',
    );
  }
}

/** The codes of a refused prefix, by what it was given for. */
const PREFIX_CODES = {
  KEY: { invalid: 'KEY_PREFIX_INVALID', outside: 'KEY_PREFIX_OUTSIDE_DOMAIN' },
  TOKEN: { invalid: 'TOKEN_PREFIX_INVALID', outside: 'TOKEN_PREFIX_OUTSIDE_DOMAIN' },
  QUOTA: { invalid: 'QUOTA_PREFIX_INVALID', outside: 'QUOTA_PREFIX_OUTSIDE_DOMAIN' },
  RETENTION: { invalid: 'RETENTION_PREFIX_INVALID', outside: 'RETENTION_PREFIX_OUTSIDE_DOMAIN' },
} as const;

/**
 * Refuses a prefix that is not an AC identifier under `domain`: every pushed name
 * is under the image domain, so a key or token for any other prefix could never
 * serve. `what` names the thing refused in its error codes (KEY_..., TOKEN_..., QUOTA_..., RETENTION_...).
 */
export function checkDomainPrefix(domain: string, prefix: string, what: keyof typeof PREFIX_CODES): void {
  const codes = PREFIX_CODES[what];
  if (!isAcIdentifier(prefix)) {
    throw invalid(
      codes.invalid,
      `prefix ${JSON.stringify(prefix)} is not an AC identifier; use a lowercase name prefix such as ${domain}/team`,
    );
  }
  if (!prefixCovers(domain, prefix)) {
    throw invalid(
      codes.outside,
      `prefix ${prefix} is outside this server's image domain ${domain}; use ${domain} or a prefix under it (set ACIHOST_PUBLIC_URL for another domain)`,
    );
  }
}
