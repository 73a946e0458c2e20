import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { buildAci, buildTar, compress } from '../helpers/aci-builder.ts';
import type { AciEntry, BuildAciOptions } from '../helpers/aci-builder.ts';
import { inspect, patchTarHeader, rejectsWith } from './support.ts';

const refused = async (opts: BuildAciOptions, code: string, limits = {}) => rejectsWith(inspect(await buildAci(opts), limits), code);
const accepted = async (opts: BuildAciOptions, limits = {}) => inspect(await buildAci(opts), limits);
const withEntries = (...entries: AciEntry[]): BuildAciOptions => ({ entries });

describe('inspector: a valid ACI', () => {
  test('reports manifest, image ID, size, format and entry count', async () => {
    const tar = await buildTar([
      { name: 'manifest', body: '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"localhost/team/app"}' },
      { name: 'rootfs', type: 'directory' },
      { name: 'rootfs/bin', type: 'directory' },
      { name: 'rootfs/bin/app', body: Buffer.alloc(100_000, 7) },
    ]);
    const r = await inspect(compress(tar, 'gzip'));
    assert.equal(r.manifest.name, 'localhost/team/app');
    assert.equal(r.imageId, `sha512-${createHash('sha512').update(tar).digest('hex')}`);
    assert.match(r.imageId, /^sha512-[0-9a-f]{128}$/);
    assert.equal(r.uncompressedSize, tar.length);
    assert.equal(r.compression, 'gzip');
    assert.equal(r.entries, 4);
  });

  test('the manifest may come last, as actool writes it', async () => {
    assert.equal((await accepted({ manifestLast: true, name: 'example.com/last' })).manifest.name, 'example.com/last');
  });

  test('names are cleaned: leading ./, doubled slashes and the "." entry', async () => {
    const r = await accepted({
      omit: ['manifest', 'rootfs'],
      sampleContent: false,
      entries: [
        { name: './', type: 'directory' },
        { name: './manifest', body: '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a"}' },
        { name: './rootfs/', type: 'directory' },
        { name: './rootfs//etc/./x', body: 'x' },
      ],
    });
    assert.equal(r.manifest.name, 'a');
  });

  test('devices, fifos and contiguous files are fine inside rootfs', async () => {
    await accepted(
      withEntries(
        { name: 'rootfs/dev', type: 'directory' },
        { name: 'rootfs/dev/null', type: 'character-device', devmajor: 1, devminor: 3 },
        { name: 'rootfs/dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
        { name: 'rootfs/dev/pipe', type: 'fifo' },
        { name: 'rootfs/contig', type: 'contiguous-file', body: 'c' },
      ),
    );
  });

  test('a manifest elsewhere inside rootfs is just a file', async () => {
    await accepted(withEntries({ name: 'rootfs/manifest', body: 'not json' }));
  });
});

describe('inspector: layout rules', () => {
  test('no manifest: ARCHIVE_MANIFEST_MISSING', async () => {
    await refused({ omit: ['manifest'] }, 'ARCHIVE_MANIFEST_MISSING');
  });

  test('no explicit rootfs directory entry: ARCHIVE_ROOTFS_MISSING', async () => {
    await refused({ omit: ['rootfs'] }, 'ARCHIVE_ROOTFS_MISSING');
  });

  test('an empty tar has no manifest', async () => {
    await rejectsWith(inspect(compress(await buildTar([]), 'gzip')), 'ARCHIVE_MANIFEST_MISSING');
  });

  test('top-level names other than manifest and rootfs: ARCHIVE_UNEXPECTED_ENTRY', async () => {
    for (const e of [
      { name: 'README' },
      { name: 'rootfsx', type: 'directory' },
      { name: 'rootfsx/a' },
      { name: 'manifest/x' },
      { name: 'etc', type: 'directory' },
    ] as AciEntry[]) {
      await refused(withEntries(e), 'ARCHIVE_UNEXPECTED_ENTRY');
    }
  });

  test('manifest must be a regular file, rootfs a directory', async () => {
    await refused({ omit: ['manifest'], entries: [{ name: 'manifest', type: 'directory' }] }, 'ARCHIVE_UNEXPECTED_ENTRY');
    await refused(
      { omit: ['manifest'], entries: [{ name: 'manifest', type: 'symlink', linkname: 'rootfs/m' }] },
      'ARCHIVE_UNEXPECTED_ENTRY',
    );
    const e = await refused(
      { omit: ['rootfs'], sampleContent: false, entries: [{ name: 'rootfs', type: 'symlink', linkname: '/' }] },
      'ARCHIVE_UNEXPECTED_ENTRY',
    );
    assert.match(e.message, /must be a directory/);
  });

  test('absolute paths: ARCHIVE_PATH_ABSOLUTE', async () => {
    await refused(withEntries({ name: '/rootfs/etc/passwd', body: 'x' }), 'ARCHIVE_PATH_ABSOLUTE');
    await refused({ omit: ['manifest'], entries: [{ name: '/manifest', body: '{}' }] }, 'ARCHIVE_PATH_ABSOLUTE');
  });

  test('".." segments: ARCHIVE_PATH_TRAVERSAL', async () => {
    for (const name of ['rootfs/../etc/passwd', 'rootfs/a/../b', '../x', 'rootfs/..']) {
      await refused(withEntries({ name, body: 'x' }), 'ARCHIVE_PATH_TRAVERSAL');
    }
  });

  test('repeated paths, also after cleaning: ARCHIVE_DUPLICATE_ENTRY', async () => {
    await refused(withEntries({ name: 'rootfs/etc/hello', body: 'again' }), 'ARCHIVE_DUPLICATE_ENTRY');
    await refused(withEntries({ name: './rootfs//etc/hello', body: 'again' }), 'ARCHIVE_DUPLICATE_ENTRY');
    await refused(withEntries({ name: 'rootfs/etc', type: 'directory' }), 'ARCHIVE_DUPLICATE_ENTRY');
    await refused(withEntries({ name: 'rootfs', type: 'directory' }), 'ARCHIVE_DUPLICATE_ENTRY');
    await refused(withEntries({ name: 'manifest', body: '{}' }), 'ARCHIVE_DUPLICATE_ENTRY');
  });

  test('tar type flags nobody should ship (GNU sparse): ARCHIVE_ENTRY_TYPE_UNSUPPORTED', async () => {
    const tar = await buildTar([
      { name: 'manifest', body: '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a"}' },
      { name: 'rootfs', type: 'directory' },
      { name: 'rootfs/sparse', body: 'x' },
    ]);
    const sparse = patchTarHeader(tar, 'rootfs/sparse', (h) => h.write('S', 156, 'latin1'));
    await rejectsWith(inspect(sparse), 'ARCHIVE_ENTRY_TYPE_UNSUPPORTED');
  });

  test('the manifest inside is parsed: MANIFEST_INVALID', async () => {
    const e = await refused({ manifest: { acKind: 'ImageManifest', acVersion: '0.8.11', name: 'Bad' } }, 'MANIFEST_INVALID');
    assert.match(e.message, /manifest\.name/);
    await refused({ manifest: 'not json' }, 'MANIFEST_INVALID');
  });
});

describe('inspector: links', () => {
  test('symlinks that stay inside rootfs, or are absolute, pass', async () => {
    await accepted(
      withEntries(
        { name: 'rootfs/bin', type: 'directory' },
        { name: 'rootfs/bin/rel', type: 'symlink', linkname: '../etc/hello' },
        { name: 'rootfs/bin/abs', type: 'symlink', linkname: '/etc/passwd' },
        { name: 'rootfs/bin/abs-up', type: 'symlink', linkname: '/../../../etc/passwd' },
        { name: 'rootfs/bin/dot', type: 'symlink', linkname: './x/../y' },
        { name: 'rootfs/top', type: 'symlink', linkname: '.' },
        { name: 'rootfs/dangling', type: 'symlink', linkname: 'nowhere/at/all' },
      ),
    );
  });

  test('relative symlinks that climb out of rootfs: ARCHIVE_LINK_ESCAPES', async () => {
    for (const [name, linkname] of [
      ['rootfs/bin/x', '../../etc/passwd'],
      ['rootfs/x', '..'],
      ['rootfs/x', 'a/../../b'],
      ['rootfs/a/b/c', '../../../../x'],
    ] as const) {
      const e = await refused(withEntries({ name, type: 'symlink', linkname }), 'ARCHIVE_LINK_ESCAPES');
      assert.match(e.message, /outside rootfs/);
    }
  });

  test('a symlink without a target: ARCHIVE_LINK_ESCAPES', async () => {
    await refused(withEntries({ name: 'rootfs/empty', type: 'symlink', linkname: '' }), 'ARCHIVE_LINK_ESCAPES');
  });

  test('a hard link to an earlier file inside rootfs passes', async () => {
    await accepted(withEntries({ name: 'rootfs/hard', type: 'link', linkname: 'rootfs/etc/hello' }));
    await accepted(withEntries({ name: 'rootfs/hard', type: 'link', linkname: './rootfs/etc/hello' }));
  });

  test('hard links to anything but an earlier file inside rootfs: ARCHIVE_LINK_ESCAPES', async () => {
    for (const linkname of [
      '/etc/passwd',
      '../etc/passwd',
      'rootfs/../manifest',
      'manifest',
      'rootfs',
      'rootfs/etc',
      'rootfs/missing',
      'rootfs/hard',
    ]) {
      await refused(withEntries({ name: 'rootfs/hard', type: 'link', linkname }), 'ARCHIVE_LINK_ESCAPES');
    }
    // The target must come first: extraction links to what already exists.
    await refused(
      withEntries({ name: 'rootfs/hard', type: 'link', linkname: 'rootfs/later' }, { name: 'rootfs/later', body: 'x' }),
      'ARCHIVE_LINK_ESCAPES',
    );
  });
});

describe('inspector: size limits on entries', () => {
  test('more entries than maxEntries: ARCHIVE_TOO_MANY_ENTRIES (413)', async () => {
    const opts = withEntries({ name: 'rootfs/a' }, { name: 'rootfs/b' });
    assert.equal((await accepted(opts, { maxEntries: 6 })).entries, 6);
    await rejectsWith(inspect(await buildAci(opts), { maxEntries: 5 }), 'ARCHIVE_TOO_MANY_ENTRIES', 'too-large');
  });

  test('paths longer than maxPathBytes: ARCHIVE_PATH_TOO_LONG', async () => {
    const name = (n: number) => `rootfs/${'a'.repeat(n - 7)}`;
    await accepted(withEntries({ name: name(300) }), { maxPathBytes: 300 });
    await refused(withEntries({ name: name(301) }), 'ARCHIVE_PATH_TOO_LONG', { maxPathBytes: 300 });
  });

  test('path length counts UTF-8 bytes, not characters', async () => {
    const name = `rootfs/${'é'.repeat(200)}`; // 207 characters, 407 bytes, sent as a PAX record
    await accepted(withEntries({ name }), { maxPathBytes: 407 });
    await refused(withEntries({ name }), 'ARCHIVE_PATH_TOO_LONG', { maxPathBytes: 406 });
  });

  test('link targets are bounded too', async () => {
    const linkname = 'x/'.repeat(200);
    await refused(withEntries({ name: 'rootfs/l', type: 'symlink', linkname }), 'ARCHIVE_PATH_TOO_LONG', { maxPathBytes: 300 });
    await refused(withEntries({ name: 'rootfs/l', type: 'link', linkname }), 'ARCHIVE_PATH_TOO_LONG', { maxPathBytes: 300 });
  });

  test('a manifest over maxManifestBytes: MANIFEST_TOO_LARGE (413)', async () => {
    const manifest = JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name: 'a', pad: 'x'.repeat(500) });
    await accepted({ manifest }, { maxManifestBytes: manifest.length });
    await rejectsWith(inspect(await buildAci({ manifest }), { maxManifestBytes: manifest.length - 1 }), 'MANIFEST_TOO_LARGE', 'too-large');
  });
});
