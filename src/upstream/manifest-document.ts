/**
 * Reading a fetched manifest or index: an OCI image manifest or index, or a
 * Docker v2 schema 2 manifest or manifest list. What is read is checked as far
 * as conversion relies on it: digests acihost can verify, sizes that are whole
 * numbers, a config of an image (not of some other artifact), and layers it can unpack.
 */
import { z } from 'zod';
import { invalid } from '../errors.ts';
import type { Descriptor, FetchedManifest, Platform } from '../convert/image-source.ts';
import {
  bareMediaType,
  CONFIG_TYPES,
  DOCKER_SCHEMA1,
  INDEX_TYPES,
  isForeignLayer,
  layerCompression,
  MANIFEST_TYPES,
  OCI_INDEX,
  OCI_MANIFEST,
} from './media-types.ts';

export type ManifestDocument =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] }
  | { kind: 'manifest'; mediaType: string; config: Descriptor; layers: Descriptor[]; annotations?: Record<string, string> };

/** Only sha256: what every registry uses, and what the stream check computes. */
export const DIGEST_PATTERN = /^sha256:[a-f0-9]{64}$/;

const platform = z.looseObject({
  os: z.string().min(1),
  architecture: z.string().min(1),
  variant: z.string().min(1).optional(),
});

const annotations = z.record(z.string(), z.string());

const descriptor = z.looseObject({
  mediaType: z.string().min(1),
  digest: z.string().regex(DIGEST_PATTERN, { error: 'must be sha256: and 64 lower-case hexadecimal digits' }),
  size: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  urls: z.array(z.string()).optional(),
  platform: platform.optional(),
  annotations: annotations.optional(),
});

const index = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptor),
});

const manifest = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptor,
  layers: z.array(descriptor),
  annotations: annotations.optional(),
});

/** Reads `fetched` as an index or an image manifest; throws UPSTREAM_MANIFEST_* saying what is wrong. */
export function parseManifestDocument(fetched: FetchedManifest): ManifestDocument {
  const where = `manifest ${fetched.digest}`;
  let json: unknown;
  try {
    json = JSON.parse(fetched.bytes.toString('utf8'));
  } catch (error) {
    throw invalid('UPSTREAM_MANIFEST_INVALID', `${where} is not JSON (${(error as Error).message}); the upstream image is damaged`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalid('UPSTREAM_MANIFEST_INVALID', `${where} is not a JSON object; the upstream image is damaged`);
  }
  const body = json as Record<string, unknown>;
  const mediaType = documentType(fetched, body, where);

  if (INDEX_TYPES.includes(mediaType)) {
    const parsed = check(index, body, where);
    return { kind: 'index', mediaType, manifests: parsed.manifests.map(toDescriptor) };
  }
  const parsed = check(manifest, body, where);
  if (!CONFIG_TYPES.includes(parsed.config.mediaType)) {
    throw invalid(
      'UPSTREAM_MANIFEST_UNSUPPORTED',
      `${where} is not a container image: its config is ${parsed.config.mediaType}; only images (${CONFIG_TYPES.join(', ')}) convert`,
    );
  }
  parsed.layers.forEach((layer, i) => checkLayer(layer, i, where));
  return {
    kind: 'manifest',
    mediaType,
    config: toDescriptor(parsed.config),
    layers: parsed.layers.map(toDescriptor),
    ...(parsed.annotations === undefined ? {} : { annotations: parsed.annotations }),
  };
}

// The type the document says it is; the one it was served as when it says none (OCI
// allows that), and the shape of it when neither does (served as application/json).
function documentType(fetched: FetchedManifest, body: Record<string, unknown>, where: string): string {
  const declared = typeof body.mediaType === 'string' ? body.mediaType : undefined;
  const served = bareMediaType(fetched.mediaType);
  const schema1 = body.schemaVersion === 1 || DOCKER_SCHEMA1.includes(declared ?? served);
  if (schema1) {
    throw invalid(
      'UPSTREAM_MANIFEST_UNSUPPORTED',
      `${where} is a Docker schema 1 manifest, which acihost does not convert; push the image again with a current docker or skopeo (schema 2 or OCI)`,
    );
  }
  const known = [...INDEX_TYPES, ...MANIFEST_TYPES];
  if (declared !== undefined) {
    if (!known.includes(declared)) throw unsupported(where, declared);
    return declared;
  }
  if (known.includes(served)) return served;
  if (Array.isArray(body.manifests)) return OCI_INDEX;
  if (typeof body.config === 'object' && Array.isArray(body.layers)) return OCI_MANIFEST;
  throw unsupported(where, served || 'of no media type');
}

const unsupported = (where: string, type: string) =>
  invalid(
    'UPSTREAM_MANIFEST_UNSUPPORTED',
    `${where} is ${type}, not an OCI image manifest or index, nor a Docker schema 2 manifest or manifest list`,
  );

function checkLayer(layer: z.infer<typeof descriptor>, i: number, where: string): void {
  if (isForeignLayer(layer.mediaType) || (layer.urls?.length ?? 0) > 0) {
    throw invalid(
      'UPSTREAM_LAYER_UNSUPPORTED',
      `layer ${i} (${layer.digest}) of ${where} is a foreign layer (${layer.mediaType}) whose bytes are not in the registry; such images (Windows ones, mostly) do not convert`,
    );
  }
  if (layerCompression(layer.mediaType) === undefined) {
    throw invalid(
      'UPSTREAM_LAYER_UNSUPPORTED',
      `layer ${i} (${layer.digest}) of ${where} is ${layer.mediaType}; acihost unpacks tar layers, plain or compressed with gzip or zstd`,
    );
  }
}

function check<T extends z.ZodType>(schema: T, body: unknown, where: string): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.length > 0 ? issue.path.join('.') : '(top)';
  throw invalid('UPSTREAM_MANIFEST_INVALID', `${where} is not valid: ${path} ${issue.message}; the upstream image is damaged`);
}

function toDescriptor(d: z.infer<typeof descriptor>): Descriptor {
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.platform !== undefined) {
    const p: Platform = { os: d.platform.os, architecture: d.platform.architecture };
    if (d.platform.variant !== undefined) p.variant = d.platform.variant;
    out.platform = p;
  }
  if (d.annotations !== undefined) out.annotations = d.annotations;
  return out;
}
