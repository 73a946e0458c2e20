import { urls } from '../../discovery/urls.ts';
import type { VersionRecord } from '../../registry/catalog/version-record.ts';

/** The URL of the page for people that shows `name` (the image domain itself is `/`). */
export function pageUrl(origin: string, domain: string, name: string): string {
  return `${origin}/${name === domain ? '' : name.slice(domain.length + 1)}`;
}

/** One published version as the JSON API shows it: image IDs in full (docs/http-api.md#the-web-page-and-the-json-api), URLs rendered now. */
export function versionJson(origin: string, r: VersionRecord) {
  return {
    name: r.name,
    version: r.version,
    os: r.os,
    arch: r.arch,
    imageId: r.imageId,
    size: r.size,
    uncompressedSize: r.uncompressedSize,
    compression: r.compression,
    signer: r.signer,
    signerKeyUrl: urls.key(origin, r.signer),
    pushedAt: r.pushedAt,
    aciUrl: urls.aci(origin, r, 'aci'),
    ascUrl: urls.aci(origin, r, 'aci.asc'),
  };
}

export type VersionJson = ReturnType<typeof versionJson>;
