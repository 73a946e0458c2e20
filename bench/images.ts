/**
 * The big ACIs the benchmark pushes and downloads, made without holding them in
 * memory. Each is two gzip members, which gzip readers (zlib, Go, gzip -d) read as
 * one stream: a small head member (the manifest, which carries the version, and the
 * rootfs directory) and a large body member (incompressible files and the tar's
 * end), built once per size and cached. So every pushed version is a different
 * file, yet making one costs a copy, not a compression.
 */
import { randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, open, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import { MiB } from './stats.ts';

const FILE_BYTES = 16 * MiB;
const FORMAT = 'v1';

/** A ustar header (POSIX.1-1988), enough for plain files and directories. */
export function ustarHeader(name: string, size: number, type: 'file' | 'directory'): Buffer {
  const h = Buffer.alloc(512);
  const octal = (offset: number, length: number, value: number) =>
    h.write(value.toString(8).padStart(length - 1, '0') + '\0', offset, length, 'latin1');
  h.write(name, 0, 100, 'utf8');
  octal(100, 8, type === 'directory' ? 0o755 : 0o644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, type === 'directory' ? 0 : size);
  octal(136, 12, 1_700_000_000);
  h.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  h.write(type === 'directory' ? '5' : '0', 156, 'latin1');
  h.write('ustar\0' + '00', 257, 'latin1');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return h;
}

const padded = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

export function manifestFor(name: string, version: string): Buffer {
  const labels = [
    { name: 'version', value: version },
    { name: 'os', value: 'linux' },
    { name: 'arch', value: 'amd64' },
  ];
  return Buffer.from(JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name, labels }));
}

/** The first gzip member: manifest and rootfs directory, no tar end. */
export function headMember(name: string, version: string): Buffer {
  const manifest = manifestFor(name, version);
  return gzipSync(
    Buffer.concat([ustarHeader('manifest', manifest.length, 'file'), padded(manifest), ustarHeader('rootfs', 0, 'directory')]),
  );
}

/** Tar entries of `bytes` random bytes in 16 MiB files, then the tar's end (two zero blocks). */
async function* bodyTar(bytes: number): AsyncGenerator<Buffer> {
  const chunk = Buffer.alloc(MiB);
  let left = bytes;
  for (let i = 0; left > 0; i++) {
    const size = Math.min(FILE_BYTES, left);
    yield ustarHeader(`rootfs/blob-${String(i).padStart(4, '0')}`, size, 'file');
    for (let done = 0; done < size; done += MiB) yield Buffer.from(randomFillSync(chunk).subarray(0, Math.min(MiB, size - done)));
    left -= size;
    if (size % 512) yield Buffer.alloc(512 - (size % 512));
  }
  yield Buffer.alloc(1024);
}

/** The cached body member for an image of about `mib` MiB; built on first use. */
export async function bodyMember(cacheDir: string, mib: number, say: (line: string) => void): Promise<string> {
  const file = join(cacheDir, `body-${FORMAT}-${mib}MiB.gz`);
  if (existsSync(file)) return file;
  await mkdir(cacheDir, { recursive: true });
  say(`bench: building the ${mib} MiB image body once (cached in ${file})`);
  const partial = `${file}.partial`;
  await writeBody(partial, mib * MiB);
  await rename(partial, file);
  return file;
}

/** Writes a body member of `bytes` random bytes to `file`. */
export async function writeBody(file: string, bytes: number): Promise<void> {
  await pipeline(Readable.from(bodyTar(bytes)), createGzip({ level: 1, chunkSize: MiB }), createWriteStream(file));
}

/** Writes the .aci of `name` `version` (head member + cached body) and returns its size. */
export async function writeImage(out: string, body: string, name: string, version: string): Promise<number> {
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, headMember(name, version));
  await pipeline(createReadStream(body, { highWaterMark: MiB }), createWriteStream(out, { flags: 'a', highWaterMark: MiB }));
  // On disk before it is measured: its write-back must not compete with the transfer.
  const handle = await open(out, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  return (await stat(out)).size;
}
