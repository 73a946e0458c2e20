/**
 * What an acpush upload must agree on before it goes through the publish
 * pipeline (docs/http-api.md#pushing-with-acpush). The ACI's own manifest is the truth; the push
 * URL and the separate manifest part are only claims about it: acpush renders the
 * URL from the user's argument, not from the image (acpush-wire.md 1d), and
 * re-serialises the manifest part (1c), so they are compared by meaning.
 */
import { publishLabels, type ImageManifest } from '../../aci/manifest.ts';
import { invalid } from '../../errors.ts';
import type { Coordinates } from '../catalog/catalog.ts';

/** acpush's `{version}` when the user gave none: it stands for the manifest's version. */
export const UNSPECIFIED_VERSION = 'latest';

const MAX_LISTED = 5;

export function checkUploadAgreement(target: Coordinates, part: ImageManifest, aci: ImageManifest): void {
  const labels = publishLabels(aci); // the image's own problems are reported first
  checkTarget(target, { name: aci.name, ...labels });
  checkManifestPart(part, aci);
}

function checkTarget(target: Coordinates, image: Coordinates): void {
  const as = `${image.name}:${image.version}`;
  if (target.name !== image.name) {
    throw invalid(
      'ACPUSH_NAME_MISMATCH',
      `the image's manifest names ${image.name}, but it was pushed as ${target.name}; push it under its own name: acpush IMAGE.aci IMAGE.aci.asc ${as}`,
    );
  }
  if (target.version !== UNSPECIFIED_VERSION && target.version !== image.version) {
    throw invalid(
      'ACPUSH_VERSION_MISMATCH',
      `the image's manifest says version ${image.version}, but it was pushed as version ${target.version}; push it as ${as}, or leave the version out`,
    );
  }
  if (target.os !== image.os || target.arch !== image.arch) {
    throw invalid(
      'ACPUSH_PLATFORM_MISMATCH',
      `the image's manifest says ${image.os}/${image.arch}, but it was pushed as ${target.os}/${target.arch}; leave os= and arch= out of the name, or build the image for that platform`,
    );
  }
}

function checkManifestPart(part: ImageManifest, aci: ImageManifest): void {
  const problems: string[] = [];
  if (part.name !== aci.name) problems.push(`name ${part.name} in the manifest part, ${aci.name} in the ACI`);
  const partLabels = labelMap(part);
  const aciLabels = labelMap(aci);
  for (const name of new Set([...partLabels.keys(), ...aciLabels.keys()])) {
    const [p, a] = [partLabels.get(name), aciLabels.get(name)];
    if (p !== a) problems.push(`label ${name}: ${describe(p)} in the manifest part, ${describe(a)} in the ACI`);
  }
  if (problems.length === 0) return;
  const listed = problems.slice(0, MAX_LISTED).join('; ') + (problems.length > MAX_LISTED ? '; ...' : '');
  throw invalid(
    'ACPUSH_MANIFEST_MISMATCH',
    `the uploaded manifest part does not match the manifest inside the ACI (${listed}); send the manifest of the same image (acpush does so when given the .aci you built)`,
  );
}

const labelMap = (m: ImageManifest) => new Map((m.labels ?? []).map((l) => [l.name, l.value]));

const describe = (value: string | undefined) => (value === undefined ? 'absent' : JSON.stringify(value.slice(0, 80)));
