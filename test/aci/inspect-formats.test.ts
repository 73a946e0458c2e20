import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { detectFormat } from '../../src/aci/format.ts';
import { buildAci, buildTar, compress } from '../helpers/aci-builder.ts';
import type { AciCompression } from '../helpers/aci-builder.ts';
import { inspect, patchTarHeader, rejectsWith } from './support.ts';

const FORMATS: AciCompression[] = ['gzip', 'bzip2', 'xz', 'none'];
const sampleTar = () =>
  buildTar([
    { name: 'manifest', body: '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/fmt"}' },
    { name: 'rootfs', type: 'directory' },
    { name: 'rootfs/data', body: Buffer.alloc(300_000, 'abc') },
  ]);

describe('format detection by magic bytes', () => {
  test('every format is read, and the image ID is the same sha512 of the tar', async () => {
    const tar = await sampleTar();
    const id = `sha512-${createHash('sha512').update(tar).digest('hex')}`;
    for (const c of FORMATS) {
      const r = await inspect(compress(tar, c));
      assert.equal(r.compression, c);
      assert.equal(r.imageId, id, c);
      assert.equal(r.uncompressedSize, tar.length);
    }
  });

  test('bytes dribbled one at a time still work in every format', async () => {
    for (const c of FORMATS) {
      const r = await inspect(await buildAci({ compression: c }), {}, 1);
      assert.equal(r.compression, c);
    }
  });

  test('a gzip ACI shorter than the 262-byte sniff window is recognised at the end', async () => {
    const aci = await buildAci({ manifest: '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a"}', sampleContent: false });
    assert.ok(aci.length < 262, `${aci.length} bytes`);
    assert.equal((await inspect(aci)).compression, 'gzip');
  });

  test('unknown formats: ARCHIVE_FORMAT_UNKNOWN naming what is accepted', async () => {
    const tar = await sampleTar();
    const v7 = patchTarHeader(tar, 'manifest', (h) => h.fill(0, 257, 265)); // a pre-POSIX tar
    for (const data of [
      Buffer.from('PK\x03\x04 this is a zip file, not an ACI'),
      Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(400)]), // zstd
      Buffer.alloc(1000, 0x41),
      v7,
      Buffer.from([0x1f]), // one byte of a gzip magic
    ]) {
      const e = await rejectsWith(inspect(data), 'ARCHIVE_FORMAT_UNKNOWN', 'invalid');
      assert.match(e.message, /gzip, bzip2, xz/);
    }
  });

  test('an empty upload: ARCHIVE_FORMAT_UNKNOWN saying it is empty', async () => {
    const e = await rejectsWith(inspect(Buffer.alloc(0)), 'ARCHIVE_FORMAT_UNKNOWN');
    assert.match(e.message, /empty/);
  });

  test('detectFormat waits for 262 bytes before calling something plain tar', () => {
    const tar = Buffer.alloc(300);
    tar.write('ustar', 257, 'latin1');
    assert.equal(detectFormat(tar.subarray(0, 261), false), undefined);
    assert.equal(detectFormat(tar.subarray(0, 261), true), 'unknown');
    assert.equal(detectFormat(tar.subarray(0, 262), false), 'none');
    assert.equal(detectFormat(Buffer.from([0x1f, 0x8b]), false), 'gzip');
    assert.equal(detectFormat(Buffer.from('BZh9'), false), 'bzip2');
    assert.equal(detectFormat(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), false), 'xz');
    assert.equal(detectFormat(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a]), false), undefined);
  });

  test("a missing xz or bzip2 tool is the server's problem: DECOMPRESSOR_UNAVAILABLE (503)", async () => {
    const aci = await buildAci({ compression: 'xz' });
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const e = await rejectsWith(inspect(aci), 'DECOMPRESSOR_UNAVAILABLE', 'unavailable');
      assert.match(e.message, /gzip/);
    } finally {
      process.env.PATH = path;
    }
  });

  test('gzip with several members reads as one stream, as Go does', async () => {
    const tar = await sampleTar();
    const half = 1024;
    const twoMembers = Buffer.concat([gzipSync(tar.subarray(0, half)), gzipSync(tar.subarray(half))]);
    assert.equal((await inspect(twoMembers)).uncompressedSize, tar.length);
  });
});

describe('damaged archives', () => {
  const cut = (b: Buffer, keep: number) => b.subarray(0, Math.floor(b.length * keep));
  const flip = (b: Buffer, at: number) => {
    const out = Buffer.from(b);
    for (let i = 0; i < 16; i++) out[at + i]! ^= 0x5a;
    return out;
  };

  test('truncated gzip: ARCHIVE_TRUNCATED', async () => {
    const aci = compress(await sampleTar(), 'gzip');
    await rejectsWith(inspect(cut(aci, 0.6)), 'ARCHIVE_TRUNCATED', 'invalid');
    await rejectsWith(inspect(aci.subarray(0, aci.length - 4)), 'ARCHIVE_TRUNCATED'); // no size trailer
  });

  test('corrupt gzip data or trailing garbage: ARCHIVE_CORRUPT', async () => {
    const aci = compress(await sampleTar(), 'gzip');
    await rejectsWith(inspect(flip(aci, 100)), 'ARCHIVE_CORRUPT', 'invalid');
    await rejectsWith(inspect(Buffer.concat([aci, Buffer.from('trailing garbage')])), 'ARCHIVE_CORRUPT');
  });

  test('a gzip whose CRC does not match: ARCHIVE_CORRUPT', async () => {
    const aci = Buffer.from(compress(await sampleTar(), 'gzip'));
    aci[aci.length - 8]! ^= 0xff;
    await rejectsWith(inspect(aci), 'ARCHIVE_CORRUPT');
  });

  test('a plain tar cut inside an entry: ARCHIVE_TRUNCATED', async () => {
    const tar = await sampleTar();
    await rejectsWith(inspect(tar.subarray(0, 512 * 3 + 1000)), 'ARCHIVE_TRUNCATED');
    await rejectsWith(inspect(compress(tar.subarray(0, 512 * 3 + 1000), 'gzip')), 'ARCHIVE_TRUNCATED');
  });

  test('a tar header with a bad checksum: ARCHIVE_CORRUPT', async () => {
    const tar = Buffer.from(await sampleTar());
    tar[3]! ^= 0x01; // inside the first header's name
    await rejectsWith(inspect(compress(tar, 'gzip')), 'ARCHIVE_CORRUPT');
  });

  for (const c of ['bzip2', 'xz'] as const) {
    test(`truncated or corrupt ${c}: ARCHIVE_CORRUPT`, async () => {
      const aci = compress(await sampleTar(), c);
      await rejectsWith(inspect(cut(aci, 0.5)), 'ARCHIVE_CORRUPT', 'invalid');
      await rejectsWith(inspect(flip(aci, Math.floor(aci.length / 2))), 'ARCHIVE_CORRUPT');
    });
  }
});
