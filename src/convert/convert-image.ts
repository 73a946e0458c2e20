/**
 * One Docker/OCI image (a platform's manifest) as a gzip-compressed ACI.
 *
 * The caller fetches and parses the manifest and config (src/upstream/ does,
 * with the media types and their quirks) and hands them in: the config decides
 * the ACI manifest before any layer is fetched, so an image appc cannot name
 * or run is refused without downloading it. The layers come from the source,
 * which checks their digests while they stream.
 */
import type { Readable } from 'node:stream';
import { aciManifest } from './aci-manifest-mapping.ts';
import type { ImageOrigin } from './aci-manifest-mapping.ts';
import type { ImageManifest } from '../aci/manifest-schema.ts';
import type { ImageConfig } from '../upstream/image-config.ts';
import { flattenLayers, gzipAci } from './flatten.ts';
import type { FlattenLimits } from './flatten.ts';
import type { Descriptor, ImageSource } from './image-source.ts';

export interface ConvertImageOptions {
  source: ImageSource;
  /** The image manifest's config and layers, bottom layer first. */
  manifest: { config: Descriptor; layers: readonly Descriptor[] };
  config: ImageConfig;
  /** The ACI's name and version label. */
  name: string;
  version: string;
  /** For the annotations: where the image came from and its digests. */
  sourceInfo: ImageOrigin;
  limits: FlattenLimits;
  /** Where layers are spooled while converting; emptied of them whatever happens. */
  scratchDir: string;
  signal?: AbortSignal;
  /** gzip level, 1 (fast) to 9 (small). */
  compressionLevel: number;
}

export interface ConvertedImage {
  /** The .aci bytes, gzip-compressed; it fails (destroyed with a typed error) if a layer breaks a rule mid-way. */
  aci: Readable;
  manifest: ImageManifest;
}

/**
 * Maps the config to an ACI manifest, fetches and indexes the layers, and resolves
 * once the ACI can stream. Rejects with typed errors: CONVERT_* for what the image
 * holds, too-large for the caps, and whatever the source throws for fetching.
 */
export async function convertImage(o: ConvertImageOptions): Promise<ConvertedImage> {
  const manifest = aciManifest({ name: o.name, version: o.version, config: o.config, source: o.sourceInfo });
  const tar = await flattenLayers({
    layers: o.manifest.layers.map((descriptor) => ({ descriptor, open: (signal) => o.source.blob(descriptor, signal) })),
    manifest: Buffer.from(JSON.stringify(manifest)),
    limits: o.limits,
    scratchDir: o.scratchDir,
    signal: o.signal,
  });
  return { aci: gzipAci(tar, o.compressionLevel), manifest };
}
