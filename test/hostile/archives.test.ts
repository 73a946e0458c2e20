/**
 * Archives built to hurt the server, pushed over HTTPS: each is refused with a
 * stable 4xx code, storage is unchanged, and the server never inflates or holds
 * more than its caps allow.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildAci, compress, manifestJson } from '../helpers/aci-builder.ts';
import { buildBomb } from '../helpers/bomb.ts';
import { createFixture, type Fixture } from '../helpers/fixture.ts';
import { curlPush } from '../helpers/push.ts';
import { assertNoInternals, unharmed } from './support.ts';

const CAP = 8 * 1024 * 1024;

/** Rewrites the name bytes of the tar header that holds `placeholder`, fixing its checksum. */
function patchName(tar: Buffer, placeholder: string, bytes: number[]): Buffer {
  const out = Buffer.from(tar);
  const at = out.indexOf(placeholder);
  assert.ok(at >= 0 && at % 512 === 0, 'placeholder must be a header name');
  Buffer.from(bytes).copy(out, at + 'rootfs/'.length);
  out.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + 512; i++) sum += out[i]!;
  out.write(sum.toString(8).padStart(6, '0') + '\0 ', at + 148, 'latin1');
  return out;
}

describe('hostile archives', () => {
  let f: Fixture;
  let n = 0;

  before(async () => {
    f = await createFixture({ config: { limits: { maxUncompressedBytes: CAP, maxEntries: 1000, maxCompressedBytes: 64 * 1024 * 1024 } } });
  });
  after(() => f?.close());

  async function push(aci: Buffer) {
    const aciPath = join(f.server.dir, `hostile-${++n}.aci`);
    await writeFile(aciPath, aci);
    const ascPath = await f.gpg.signFile(aciPath, f.key.fingerprint);
    return curlPush({ origin: f.server.origin, caFile: f.server.caFile, token: f.token, aci: aciPath, asc: ascPath });
  }

  async function refused(aci: Buffer, status: number, code: string | RegExp) {
    const storage = await unharmed(f.server.storageDir);
    const res = await push(aci);
    assert.equal(res.status, status, res.raw);
    assert.match(res.json.error.code, code instanceof RegExp ? code : new RegExp(`^${code}$`));
    assertNoInternals(res.raw);
    await storage.check();
    return res;
  }

  const tarOf = (opts: Parameters<typeof buildAci>[0]) => buildAci({ name: 'localhost/hostile/app', compression: 'none', ...opts });

  it('a decompression bomb is refused with 413 without inflating it into memory', async () => {
    // 512 MiB of zeros in about half a MiB of gzip, against an 8 MiB cap.
    const bomb = await buildBomb({ format: 'gzip', bytes: 512 * 1024 * 1024, name: 'localhost/hostile/app', version: '1.0.0' });
    assert.ok(bomb.length < 1024 * 1024);
    const rssBefore = process.memoryUsage().rss;
    await refused(bomb, 413, 'UNCOMPRESSED_TOO_LARGE');
    assert.ok(process.memoryUsage().rss - rssBefore < 128 * 1024 * 1024, 'memory does not grow with the bomb');
  });

  it('more entries than the configured cap: 413', async () => {
    const entries = Array.from({ length: 1001 }, (_, i) => ({ name: `rootfs/f${i}`, body: '' }));
    await refused(compress(await tarOf({ entries }), 'gzip'), 413, 'ARCHIVE_TOO_MANY_ENTRIES');
  });

  it('a path of 10,000 characters: 422', async () => {
    await refused(
      compress(await tarOf({ entries: [{ name: 'rootfs/' + 'a'.repeat(10_000), body: 'x' }] }), 'gzip'),
      422,
      'ARCHIVE_PATH_TOO_LONG',
    );
  });

  it('a manifest of 10 MiB: 413', async () => {
    const big = JSON.stringify({
      ...JSON.parse(manifestJson('localhost/hostile/app', '1.0.0')),
      annotations: [{ name: 'pad', value: 'x'.repeat(10 * 1024 * 1024) }],
    });
    await refused(compress(await tarOf({ manifest: big }), 'gzip'), 413, 'MANIFEST_TOO_LARGE');
  });

  it('deeply nested JSON in the manifest: 422', async () => {
    const deep = JSON.stringify({
      ...JSON.parse(manifestJson('localhost/hostile/app', '1.0.0')),
      app: '['.repeat(100_000) + ']'.repeat(100_000),
    }).replace(/"(\[+\]+)"/, '$1');
    await refused(compress(await tarOf({ manifest: deep }), 'gzip'), 422, 'MANIFEST_INVALID');
  });

  it('a name that is not UTF-8: 422', async () => {
    const tar = patchName(await tarOf({ entries: [{ name: 'rootfs/XXplaceholder', body: 'x' }] }), 'rootfs/XXplaceholder', [0xff, 0xfe]);
    await refused(compress(tar, 'gzip'), 422, 'ARCHIVE_NAME_NOT_UTF8');
  });

  it('a stream truncated in the gzip layer, in a tar header and in a tar body: 422', async () => {
    const body = 'b'.repeat(5000);
    const tar = await tarOf({ entries: [{ name: 'rootfs/big', body }] });
    const gz = compress(tar, 'gzip');
    await refused(gz.subarray(0, gz.length - 12), 422, /^ARCHIVE_(TRUNCATED|CORRUPT)$/);
    const header = tar.indexOf('rootfs/big');
    await refused(compress(tar.subarray(0, header + 200), 'gzip'), 422, /^ARCHIVE_(TRUNCATED|CORRUPT)$/);
    await refused(compress(tar.subarray(0, header + 512 + 2000), 'gzip'), 422, /^ARCHIVE_(TRUNCATED|CORRUPT)$/);
    await refused(tar.subarray(0, header + 512 + 2000), 422, /^ARCHIVE_(TRUNCATED|CORRUPT)$/);
  });

  it('trailing garbage after the end of the tar: 422', async () => {
    const tar = await tarOf({});
    await refused(compress(Buffer.concat([tar, Buffer.from('garbage after the end '.repeat(40))]), 'gzip'), 422, 'ARCHIVE_CORRUPT');
    await refused(Buffer.concat([compress(tar, 'gzip'), Buffer.from('junk')]), 422, 'ARCHIVE_CORRUPT');
  });

  const link = (name: string, linkname: string) => ({ name: `rootfs/${name}`, type: 'symlink' as const, linkname });

  it('a chain of symlinks that climbs out of rootfs: 422', async () => {
    const res = await refused(
      await tarOf({ entries: [link('d1/d2', '..'), link('l', 'd1/d2/..')] }).then((t) => compress(t, 'gzip')),
      422,
      'ARCHIVE_LINK_ESCAPES',
    );
    assert.match(res.json.error.message, /rootfs\/l/);
  });

  it('a later symlink that makes an earlier one climb out, and a hard link to an escaping symlink: 422', async () => {
    await refused(compress(await tarOf({ entries: [link('x', 'a/..'), link('a', '.')] }), 'gzip'), 422, 'ARCHIVE_LINK_ESCAPES');
    const hard = { name: 'rootfs/h', type: 'link' as const, linkname: 'rootfs/a/b/up' };
    await refused(compress(await tarOf({ entries: [link('a/b/up', '../..'), hard] }), 'gzip'), 422, 'ARCHIVE_LINK_ESCAPES');
    // Through b (-> .), b/l is really l, at the top of rootfs.
    await refused(compress(await tarOf({ entries: [link('b', '.'), link('b/l', '../x')] }), 'gzip'), 422, 'ARCHIVE_LINK_ESCAPES');
  });

  it('a symlink loop, and a chain longer than 255 links: 422 at once', async () => {
    await refused(compress(await tarOf({ entries: [link('a', 'b'), link('b', 'a'), link('c', 'a/x')] }), 'gzip'), 422, 'ARCHIVE_LINK_LOOP');
    const chain = Array.from({ length: 300 }, (_, i) => link(`l${i}`, `l${i + 1}`));
    const started = Date.now();
    await refused(compress(await tarOf({ entries: chain }), 'gzip'), 422, 'ARCHIVE_LINK_LOOP');
    assert.ok(Date.now() - started < 10_000);
  });

  it('symlinks through earlier links that stay inside, absolute ones included: 201', async () => {
    const aci = await buildAci({
      name: 'localhost/hostile/links',
      entries: [link('d1/d2', '..'), link('l', 'd1/d2/etc'), link('abs', '/d1/d2/../../..'), link('usr/bin/sh', '../../l/hello')],
    });
    const res = await push(aci);
    assert.equal(res.status, 201, res.raw);
  });

  it('device nodes and fifos inside rootfs are legitimate: 201', async () => {
    const aci = await buildAci({
      name: 'localhost/hostile/devices',
      entries: [
        { name: 'rootfs/dev', type: 'directory' },
        { name: 'rootfs/dev/null', type: 'character-device', devmajor: 1, devminor: 3 },
        { name: 'rootfs/dev/sda', type: 'block-device', devmajor: 8, devminor: 0 },
        { name: 'rootfs/run-fifo', type: 'fifo' },
      ],
    });
    const res = await push(aci);
    assert.equal(res.status, 201, res.raw);
  });
});
