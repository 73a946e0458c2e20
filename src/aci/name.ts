/**
 * appc names and labels (appc/spec `spec/types.md`, `schema/types/acidentifier.go`,
 * `acname.go`, `labels.go`), plus the rules our server adds on top of them.
 */
import { invalid } from '../errors.ts';

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

export function isValidOsArch(os: string, arch: string): boolean {
  // Object.hasOwn: 'constructor' or '__proto__' must not look like an os.
  return Object.hasOwn(VALID_OS_ARCH, os) && VALID_OS_ARCH[os]!.includes(arch);
}

/**
 * Versions become one URL path segment and one storage path segment, so they
 * must not carry '/', '%', '?', spaces or a leading dot.
 */
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$/;

export function assertPublishableVersion(version: string): void {
  if (!VERSION_PATTERN.test(version)) {
    throw invalid(
      'VERSION_INVALID',
      `the version label ${JSON.stringify(version.slice(0, 140))} cannot be published: use 1-128 characters ` +
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
