import type { Readable } from 'node:stream';

/** Where an image runs, as an OCI index or a config names it. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** An OCI/Docker content descriptor: a manifest, a config or a layer. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

/** A manifest or index as fetched: its bytes, the media type it was served as, and its digest. */
export interface FetchedManifest {
  mediaType: string;
  digest: string;
  bytes: Buffer;
}

/**
 * One repository of an OCI/Docker image store: an upstream registry (src/upstream/), or an
 * OCI layout on disk. Everything it returns is checked against its digest: a manifest
 * fetched by digest before it is returned, a blob while it streams (the stream fails
 * with a typed error at the end when the bytes or their size do not match).
 */
export interface ImageSource {
  /** Where the images come from, for the ACI's annotations: `registry.example.com`, `library/alpine`. */
  readonly registry: string;
  readonly repository: string;
  /** The manifest or index at `reference`: a tag, or a digest (`sha256:...`). */
  manifest(reference: string, signal?: AbortSignal): Promise<FetchedManifest>;
  blob(descriptor: Descriptor, signal?: AbortSignal): Promise<Readable>;
}
