/**
 * Hand-made layers: the compressions and media types, names spelt every way,
 * parents no layer archives, hard links whose target goes, and hostile layers
 * (escapes, bombs, too many entries), which fail with typed errors and leave
 * no scratch files behind.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { convertImage } from '../../src/convert/convert-image.ts';
import type { FlattenLimits } from '../../src/convert/flatten.ts';
import { isAcihostError } from '../../src/errors.ts';
import type { HandLayer } from '../helpers/oci-images.ts';
import { writeLayout } from '../helpers/oci-images.ts';
import { OciLayoutSource, readImage } from '../helpers/oci-layout-source.ts';
import { readAci } from '../helpers/rootfs-oracle.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const LIMITS: FlattenLimits = { maxUncompressedBytes: 16 * 1024 * 1024, maxEntries: 1000, maxPathBytes: 4096 };

async function convertLayers(layers: HandLayer[], limits = LIMITS, signal?: AbortSignal) {
  const layout = join(await tempDir('acihost-layers-'), 'layout');
  await writeLayout(layout, 't', layers);
  const source = new OciLayoutSource(layout);
  const image = await readImage(source, 't');
  const scratch = await tempDir('acihost-layers-scratch-');
  const run = async () => {
    const converted = await convertImage({
      source,
      manifest: image.manifest,
      config: image.config,
      name: 'example.com/layers',
      version: '1.0.0',
      sourceInfo: {
        registry: 'localhost',
        repository: 'layers',
        manifestDigest: image.manifestDigest,
        configDigest: image.manifest.config.digest,
      },
      limits,
      scratchDir: scratch,
      signal,
      compressionLevel: 1,
    });
    return readAci(await buffer(converted.aci));
  };
  return { run, scratch };
}

async function refused(layers: HandLayer[], code: string, limits = LIMITS): Promise<void> {
  const { run, scratch } = await convertLayers(layers, limits);
  await assert.rejects(run(), (e: unknown) => isAcihostError(e) && e.code === code);
  await new Promise((r) => setTimeout(r, 50)); // removal follows the stream's close
  assert.deepEqual(readdirSync(scratch), [], 'no scratch files are left');
}

test('zstd, plain and Docker gzip layers; ./ and / prefixes; parents no layer archives are made', async () => {
  const { run } = await convertLayers([
    {
      compression: 'zstd',
      entries: [
        { name: './p', body: 'p is a file\n' },
        { name: '/deep/er/file', body: 'deep\n', mode: 0o640 },
      ],
    },
    { compression: 'none', entries: [{ name: 'p/q', body: 'p is a directory now\n' }] },
    { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', entries: [{ name: './deep/', type: 'directory', mode: 0o700 }] },
  ]);
  const { tree, names } = await run();
  assert.equal(tree.get('p')?.type, 'directory', 'a higher layer with p/q makes p a directory');
  assert.equal(tree.get('p')?.mode, 0o755);
  assert.equal(tree.get('p/q')?.type, 'file');
  assert.equal(tree.get('deep')?.mode, 0o700, 'the highest layer archiving a directory gives its mode');
  assert.equal(tree.get('deep/er')?.type, 'directory', 'a parent no layer archives is made');
  assert.equal(tree.get('deep/er/file')?.mode, 0o640);
  assert.equal(new Set(names).size, names.length, 'every path once');
});

test('hard links: a whited-out target leaves its content with the first surviving link; chains and later links follow it', async () => {
  const { run } = await convertLayers([
    {
      entries: [
        { name: 'l/target', body: 'linked content\n', mode: 0o751 },
        { name: 'l/one', type: 'link', linkname: 'l/target' },
        { name: 'l/two', type: 'link', linkname: './l/target' },
        { name: 'l/three', type: 'link', linkname: 'l/one' },
        { name: 'k/target', body: 'kept\n' },
        { name: 'k/link', type: 'link', linkname: 'k/target' },
      ],
    },
    {
      entries: [
        { name: 'l/.wh.target', body: '' },
        { name: 'l/.wh.one', body: '' },
      ],
    },
  ]);
  const { tree } = await run();
  assert.equal(tree.has('l/target'), false);
  assert.equal(tree.has('l/one'), false);
  assert.deepEqual(tree.get('l/two')?.links, ['l/three', 'l/two']);
  assert.equal(tree.get('l/two')?.mode, 0o751);
  assert.deepEqual(tree.get('k/link')?.links, ['k/link', 'k/target']);
  assert.equal(tree.get('l/three')?.sha256, tree.get('l/two')?.sha256);
});

test('an entry climbing out with .. is refused', async () => {
  await refused(
    [
      {
        entries: [
          { name: 'ok', body: 'x' },
          { name: '../x', body: 'escape' },
        ],
      },
    ],
    'ARCHIVE_PATH_TRAVERSAL',
  );
});

test('a symlink leading out of rootfs is refused by the ACI rules', async () => {
  await refused([{ entries: [{ name: 'a/b', type: 'symlink', linkname: '../../../etc' }] }], 'ARCHIVE_LINK_ESCAPES');
});

test('a layer that unpacks past the cap stops as too large', async () => {
  const bomb = { entries: [{ name: 'zeros', body: Buffer.alloc(4 * 1024 * 1024) }] };
  await refused([bomb], 'UNCOMPRESSED_TOO_LARGE', { ...LIMITS, maxUncompressedBytes: 1024 * 1024 });
});

test('layers with more entries than the cap are refused', async () => {
  const many = Array.from({ length: 60 }, (_, i) => ({ name: `f${i}`, body: '' }));
  await refused([{ entries: many.slice(0, 30) }, { entries: many.slice(30) }], 'ARCHIVE_TOO_MANY_ENTRIES', { ...LIMITS, maxEntries: 50 });
});

test('an unknown layer media type and corrupt layer data are refused', async () => {
  await refused([{ entries: [], mediaType: 'application/vnd.example.squashfs' }], 'CONVERT_LAYER_MEDIA_TYPE');
  const tar = gzipSync(Buffer.alloc(2048, 7));
  await refused([{ entries: [], raw: tar }], 'CONVERT_LAYER_INVALID');
});

test('a file archived twice in one layer is refused', async () => {
  await refused(
    [
      {
        entries: [
          { name: 'dup', body: 'a' },
          { name: './dup', body: 'b' },
        ],
      },
    ],
    'ARCHIVE_DUPLICATE_ENTRY',
  );
});

test('an abort while streaming ends the ACI and removes the scratch files', async () => {
  const controller = new AbortController();
  const big = {
    compression: 'none' as const,
    entries: Array.from({ length: 8 }, (_, i) => ({ name: `big${i}`, body: Buffer.alloc(1024 * 1024, i) })),
  };
  const layout = join(await tempDir('acihost-layers-'), 'layout');
  await writeLayout(layout, 't', [big]);
  const source = new OciLayoutSource(layout);
  const image = await readImage(source, 't');
  const scratch = await tempDir('acihost-layers-scratch-');
  const converted = await convertImage({
    source,
    manifest: image.manifest,
    config: image.config,
    name: 'example.com/layers',
    version: '1.0.0',
    sourceInfo: {
      registry: 'localhost',
      repository: 'layers',
      manifestDigest: image.manifestDigest,
      configDigest: image.manifest.config.digest,
    },
    limits: LIMITS,
    scratchDir: scratch,
    signal: controller.signal,
    compressionLevel: 1,
  });
  assert.notDeepEqual(readdirSync(scratch), [], 'the layers are spooled while the ACI streams');
  let read = 0;
  await assert.rejects(
    (async () => {
      for await (const chunk of converted.aci) {
        read += (chunk as Buffer).length;
        if (read > 0) controller.abort();
      }
    })(),
  );
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(readdirSync(scratch), []);
});
