/**
 * Image coordinates (name, version, os, arch) as URLs carry them. A URL can only
 * name what some push could have published (src/aci/coordinates.ts); anything
 * else names nothing, and is answered as such.
 */
import { isImageName } from '../aci/coordinates.ts';
import { invalid, notFound } from '../errors.ts';
import { assertLabelFits, assertNameFits, isAcIdentifier, isValidOsArch, isVersionLabel, VERSION_PATTERN } from '../names.ts';
import type { VersionCoordinates } from '../storage/layout.ts';

/** Coordinates some push could have published (`latest` included: file URLs resolve it). */
const isImageCoordinates = (c: VersionCoordinates): boolean =>
  isImageName(c.name) && isVersionLabel(c.version) && isValidOsArch(c.os, c.arch);

/** `NAME/VERSION/OS/ARCH` split from the end, since names have slashes; null when there are too few parts. */
function split(path: string): VersionCoordinates | null {
  const parts = path.split('/');
  if (parts.length < 4) return null;
  const [version, os, arch] = parts.slice(-3) as [string, string, string];
  return { name: parts.slice(0, -3).join('/'), version, os, arch };
}

/**
 * The coordinates of a `NAME/VERSION/OS/ARCH` URL path (already percent-decoded),
 * or IMAGE_NOT_FOUND with `usage` as its message when they name nothing a push
 * could have published.
 */
export function parseCoordinates(path: string, usage: string): VersionCoordinates {
  const c = split(path);
  if (!c || !isImageCoordinates(c)) throw notFound('IMAGE_NOT_FOUND', usage);
  return c;
}

/**
 * The coordinates an acpush start URL claims. Its shape is checked here (404, as
 * for any URL that names nothing); its values are the claim a push makes, so they
 * are refused as a push would be (422), before any upload is stored.
 */
export function parsePushTarget(path: string, usage: string): VersionCoordinates {
  const c = split(path);
  if (!c) throw notFound('ACPUSH_URL_INVALID', usage);
  assertNameFits(c.name);
  if (!isAcIdentifier(c.name)) {
    throw invalid(
      'ACPUSH_NAME_INVALID',
      `${JSON.stringify(c.name.slice(0, 200))} is not an image name; use lowercase names such as example.com/team/app`,
    );
  }
  for (const label of ['version', 'os', 'arch'] as const) assertLabelFits(label, c[label]);
  // `latest` stands for the manifest's version here (acpush sends it when the name has none).
  if (!VERSION_PATTERN.test(c.version) || !isValidOsArch(c.os, c.arch)) {
    throw invalid(
      'ACPUSH_LABELS_INVALID',
      `${JSON.stringify(`${c.version}/${c.os}/${c.arch}`.slice(0, 200))} is not a version with an appc os/arch pair; ` +
        'push as NAME:VERSION (for example acpush IMAGE.aci IMAGE.aci.asc example.com/app:1.0.0), with os= and arch= left out',
    );
  }
  return c;
}
