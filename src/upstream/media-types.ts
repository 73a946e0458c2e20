/**
 * The media types of the OCI image spec and of Docker's image manifest v2
 * schema 2 that acihost reads, and what each layer type is compressed with.
 */

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';

/** Docker's schema 1, signed or not: refused, since its layers carry no config to convert. */
export const DOCKER_SCHEMA1 = [
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
];

export const MANIFEST_TYPES: readonly string[] = [OCI_MANIFEST, DOCKER_MANIFEST];
export const INDEX_TYPES: readonly string[] = [OCI_INDEX, DOCKER_MANIFEST_LIST];
export const CONFIG_TYPES: readonly string[] = [OCI_CONFIG, DOCKER_CONFIG];

/** The Accept header of a manifest request: every kind read here, and no schema 1. */
export const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST].join(', ');

export type LayerCompression = 'none' | 'gzip' | 'zstd';

const LAYER_TYPES: Readonly<Record<string, LayerCompression>> = {
  'application/vnd.oci.image.layer.v1.tar': 'none',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
};

/** Layers whose bytes live elsewhere than the registry (Windows base layers, mostly): refused. */
export const isForeignLayer = (mediaType: string): boolean =>
  mediaType === 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' ||
  mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.');

/** How a layer of `mediaType` is compressed, or undefined for a type no layer of ours has. */
export const layerCompression = (mediaType: string): LayerCompression | undefined =>
  Object.hasOwn(LAYER_TYPES, mediaType) ? LAYER_TYPES[mediaType] : undefined;

/** A Content-Type without its parameters, lower-cased. */
export const bareMediaType = (contentType: string | undefined): string => (contentType ?? '').split(';')[0]!.trim().toLowerCase();
