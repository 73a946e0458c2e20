/**
 * Decompression bombs built in a moment: a valid ACI start (manifest, rootfs)
 * whose last tar entry claims `bytes` of zeros, compressed as one small stream,
 * followed by the same compressed 8 MiB of zeros over and over. gzip, bzip2 and
 * xz all decode concatenated streams as one, so the bomb unpacks to its full size
 * while only one 8 MiB block is ever compressed (the test process stays small, so
 * what memory grows by is the server's).
 */
import assert from 'node:assert/strict';
import { buildAci, compress } from './aci-builder.ts';

export type BombFormat = 'gzip' | 'bzip2' | 'xz';

const BLOCK = 8 * 1024 * 1024;
const zeroBlocks = new Map<BombFormat, Buffer>();

/** The tar up to and including the header of `rootfs/zeros`, whose size says `bytes`. */
async function tarStart(name: string, version: string, bytes: number): Promise<Buffer> {
  const tar = await buildAci({ name, version, compression: 'none', entries: [{ name: 'rootfs/zeros', body: '' }] });
  const at = tar.indexOf('rootfs/zeros\0');
  assert.ok(at >= 0 && at % 512 === 0, 'rootfs/zeros must start a header');
  const header = Buffer.from(tar.subarray(at, at + 512));
  header.write(bytes.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return Buffer.concat([tar.subarray(0, at), header]);
}

/** A bomb unpacking to at least `bytes` (a multiple of 8 MiB, under 8 GiB). */
export async function buildBomb(o: { format: BombFormat; bytes: number; name: string; version: string }): Promise<Buffer> {
  assert.ok(o.bytes % BLOCK === 0 && o.bytes < 8 * 1024 ** 3);
  let block = zeroBlocks.get(o.format);
  if (!block) zeroBlocks.set(o.format, (block = compress(Buffer.alloc(BLOCK), o.format)));
  const start = compress(await tarStart(o.name, o.version, o.bytes), o.format);
  return Buffer.concat([start, ...Array.from({ length: o.bytes / BLOCK }, () => block)]);
}
