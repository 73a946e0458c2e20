/**
 * Docker/OCI platforms in appc's terms. appc names an architecture once for
 * each ABI (`aarch64`, `armv7l`), where Docker splits it into architecture and
 * variant (`arm64`, `arm` + `v7`); the table follows appc's own
 * `types.ToAppcOSArch` for linux, with OCI's variant spellings.
 */
import { invalid, notFound } from '../errors.ts';
import { isValidOsArch } from '../names.ts';
import type { Descriptor, Platform } from './image-source.ts';

/** The os and arch labels of an ACI. */
export interface AppcPlatform {
  os: string;
  arch: string;
}

/** Docker architecture → variants (as OCI spells them; '' when none) → appc arch. */
const LINUX_ARCHES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  amd64: { '': 'amd64' },
  '386': { '': 'i386' },
  arm64: { '': 'aarch64', v8: 'aarch64' },
  // 32-bit arm without a variant is left unnamed: appc reads it as v6, containerd as v7.
  arm: { v6: 'armv6l', v7: 'armv7l' },
  ppc64: { '': 'ppc64' },
  ppc64le: { '': 'ppc64le' },
  s390x: { '': 's390x' },
};

const show = (p: Platform): string => [p.os, p.architecture, p.variant].filter((s) => s !== undefined && s !== '').join('/');

/** Why appc has no name for a platform, or undefined when it has one. */
function unnameable(p: Platform): string | undefined {
  if (p.os !== 'linux') return `appc runs no ${JSON.stringify(p.os)} images converted from Docker; only linux`;
  const variants = Object.hasOwn(LINUX_ARCHES, p.architecture) ? LINUX_ARCHES[p.architecture]! : undefined;
  if (variants === undefined) return `appc has no name for the architecture ${JSON.stringify(p.architecture)}`;
  if (!Object.hasOwn(variants, p.variant ?? '')) {
    return p.variant === undefined || p.variant === ''
      ? `${p.architecture} needs a variant (${Object.keys(variants).join(', ')}) to have an appc name`
      : `appc has no name for ${p.architecture} variant ${JSON.stringify(p.variant)}`;
  }
  return undefined;
}

/** The appc os/arch of a Docker platform; throws CONVERT_PLATFORM_UNNAMEABLE when there is none. */
export function appcPlatform(p: Platform): AppcPlatform {
  const why = unnameable(p);
  if (why !== undefined) {
    throw invalid('CONVERT_PLATFORM_UNNAMEABLE', `the image is for ${JSON.stringify(show(p))}, which cannot be converted: ${why}`);
  }
  const arch = LINUX_ARCHES[p.architecture]![p.variant ?? '']!;
  // The table and appc's list of pairs must agree; a pair appc refuses would never publish.
  if (!isValidOsArch(p.os, arch)) throw invalid('CONVERT_PLATFORM_UNNAMEABLE', `appc does not know ${p.os}/${arch}`);
  return { os: p.os, arch };
}

export interface NamedPlatform {
  descriptor: Descriptor;
  platform: AppcPlatform;
}

export interface SkippedPlatform {
  descriptor: Descriptor;
  reason: string;
}

/** Attestations (BuildKit's provenance) sit in indexes as `unknown/unknown`; they are no images to run. */
const isAttestation = (d: Descriptor): boolean =>
  d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
  (d.platform?.os === 'unknown' && d.platform.architecture === 'unknown');

/**
 * Splits an index's manifests into those appc can name, in index order, and those
 * it cannot, each with the reason. The first of two manifests with the same appc
 * name wins (a later one is skipped), as a client picking from the index would.
 */
export function indexPlatforms(manifests: readonly Descriptor[]): { named: NamedPlatform[]; skipped: SkippedPlatform[] } {
  const named: NamedPlatform[] = [];
  const skipped: SkippedPlatform[] = [];
  const seen = new Set<string>();
  for (const descriptor of manifests) {
    const p = descriptor.platform;
    if (p === undefined) {
      skipped.push({ descriptor, reason: 'the index gives no platform for it' });
      continue;
    }
    if (isAttestation(descriptor)) {
      skipped.push({ descriptor, reason: 'an attestation, not an image' });
      continue;
    }
    const why = unnameable(p);
    if (why !== undefined) {
      skipped.push({ descriptor, reason: why });
      continue;
    }
    const platform = appcPlatform(p);
    const key = `${platform.os}/${platform.arch}`;
    if (seen.has(key)) {
      skipped.push({ descriptor, reason: `an earlier manifest of the index is ${key} already` });
      continue;
    }
    seen.add(key);
    named.push({ descriptor, platform });
  }
  return { named, skipped };
}

/** The index's manifest for an appc os/arch; throws CONVERT_PLATFORM_MISSING naming those it has. */
export function pickPlatform(manifests: readonly Descriptor[], wanted: AppcPlatform): Descriptor {
  const { named } = indexPlatforms(manifests);
  const found = named.find((n) => n.platform.os === wanted.os && n.platform.arch === wanted.arch);
  if (found !== undefined) return found.descriptor;
  const offered = named.map((n) => `${n.platform.os}/${n.platform.arch}`);
  throw notFound(
    'CONVERT_PLATFORM_MISSING',
    `the image has no ${wanted.os}/${wanted.arch} variant; it has ` + (offered.length > 0 ? offered.join(', ') : 'none appc can name'),
  );
}
