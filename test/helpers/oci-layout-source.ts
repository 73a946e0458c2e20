/**
 * An ImageSource over an OCI image layout on disk (OCI image-spec
 * `image-layout.md`), checking every blob against its descriptor's digest and
 * size while it streams, as an upstream registry client must.
 *
 *   const source = new OciLayoutSource('/tmp/layout', 'localhost', 'team/app');
 *   const image = await readImage(source, 'full');
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { notFound } from '../../src/errors.ts';
import { parseImageConfig, type ImageConfig } from '../../src/upstream/image-config.ts';
import type { Descriptor, FetchedManifest, ImageSource } from '../../src/convert/image-source.ts';

const blobPath = (layout: string, digest: string): string => {
  const [algorithm, hex] = digest.split(':');
  if (algorithm !== 'sha256' || !/^[0-9a-f]{64}$/.test(hex ?? '')) throw notFound('IMAGE_NOT_FOUND', `no blob ${digest}`);
  return join(layout, 'blobs', 'sha256', hex!);
};

/** Bytes that are not what their descriptor says; the upstream client has its own typed error for it. */
export class BlobMismatch extends Error {}

/** Fails at the end when the bytes are not `size` long or do not hash to `digest`. */
function digestCheck(digest: string, size: number): Transform {
  const hash = createHash('sha256');
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > size) return cb(new BlobMismatch(`blob ${digest} is longer than ${size} bytes`));
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      const got = `sha256:${hash.digest('hex')}`;
      if (seen !== size || got !== digest) return cb(new BlobMismatch(`blob ${digest} has digest ${got}, ${seen} bytes`));
      cb();
    },
  });
}

interface IndexJson {
  manifests: (Descriptor & { annotations?: Record<string, string> })[];
}

export class OciLayoutSource implements ImageSource {
  readonly layout: string;
  readonly registry: string;
  readonly repository: string;

  constructor(layout: string, registry = 'localhost', repository = 'test/image') {
    this.layout = layout;
    this.registry = registry;
    this.repository = repository;
  }

  async manifest(reference: string): Promise<FetchedManifest> {
    let descriptor: Descriptor | undefined;
    if (reference.startsWith('sha256:')) {
      descriptor = { mediaType: '', digest: reference, size: -1 };
    } else {
      const index = JSON.parse(await readFile(join(this.layout, 'index.json'), 'utf8')) as IndexJson;
      descriptor = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === reference);
      if (descriptor === undefined) throw notFound('IMAGE_NOT_FOUND', `no tag ${reference} in ${this.layout}`);
    }
    const bytes = await readFile(blobPath(this.layout, descriptor.digest));
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (digest !== descriptor.digest) throw new BlobMismatch(`manifest ${descriptor.digest} has digest ${digest}`);
    const mediaType = descriptor.mediaType || (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType || '';
    return { mediaType, digest, bytes };
  }

  async blob(descriptor: Descriptor, signal?: AbortSignal): Promise<Readable> {
    const file = createReadStream(blobPath(this.layout, descriptor.digest), { highWaterMark: 64 * 1024, signal });
    const check = digestCheck(descriptor.digest, descriptor.size);
    file.on('error', (e) => check.destroy(e));
    return file.pipe(check);
  }
}

/** An image of the layout, parsed: its manifest's digest, config and layers. */
export interface LayoutImage {
  manifestDigest: string;
  manifest: { config: Descriptor; layers: Descriptor[] };
  config: ImageConfig;
}

async function readBlob(source: ImageSource, d: Descriptor): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await source.blob(d)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function readImage(source: ImageSource, tag: string): Promise<LayoutImage> {
  const fetched = await source.manifest(tag);
  const manifest = JSON.parse(fetched.bytes.toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
  const config = parseImageConfig(await readBlob(source, manifest.config), manifest.config.digest);
  return { manifestDigest: fetched.digest, manifest: { config: manifest.config, layers: manifest.layers }, config };
}
