import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { invalid } from '../errors.ts';

/**
 * A gzip ACI made by a conversion, given another version label: the same rootfs, entry for
 * entry, behind a manifest that differs only in `version`. A moved upstream tag keeps its
 * earlier conversion this way, under a version that never moves.
 */
export function relabelAci(source: Readable, version: string, gzipLevel: number): Readable {
  const extract = tar.extract();
  const pack = tar.pack();
  const out = new PassThrough();
  extract.on('entry', (header, stream, next) => {
    if (header.name !== 'manifest') {
      stream.pipe(pack.entry(header, next));
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => void chunks.push(c as Buffer));
    stream.on('end', () => {
      const manifest = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { labels?: { name: string; value: string }[] };
      const label = manifest.labels?.find((l) => l.name === 'version');
      if (!label) {
        next(invalid('MANIFEST_INVALID', 'the converted image has no version label to change'));
        return;
      }
      label.value = version;
      const body = Buffer.from(JSON.stringify(manifest, null, 1));
      pack.entry({ ...header, size: body.length }, body, next);
    });
  });
  extract.on('finish', () => pack.finalize());
  pipeline(source, createGunzip(), extract).catch((e: unknown) => pack.destroy(e as Error));
  // The reader gone or failed, the read of the stored image goes too.
  pipeline(pack, createGzip({ level: gzipLevel }), out).catch((e: unknown) => {
    out.destroy(e as Error);
    source.destroy();
  });
  return out;
}
