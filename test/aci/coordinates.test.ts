import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isImageName, LONGEST_IMAGE_KEY_BYTES } from '../../src/aci/coordinates.ts';
import { parseCoordinates, parsePushTarget } from '../../src/http/url-coordinates.ts';
import { MAX_S3_PREFIX_BYTES } from '../../src/config/schema.ts';
import { parseManifest, publishLabels } from '../../src/aci/manifest.ts';
import { assertNameFits, MAX_LABEL_BYTES, MAX_NAME_BYTES, MAX_NAME_SEGMENT_BYTES } from '../../src/names.ts';
import { loadConfig } from '../../src/config/load.ts';
import { CheckedStorage } from '../../src/storage/checked-storage.ts';
import { FsStorage } from '../../src/storage/fs-storage.ts';
import { layout } from '../../src/storage/layout.ts';
import { manifestJson } from '../helpers/aci-builder.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { rejectsWith } from './support.ts';

/** A name of exactly `bytes` bytes, in long segments. */
function nameOf(bytes: number): string {
  const segments: string[] = [];
  let left = bytes;
  for (; left > MAX_NAME_SEGMENT_BYTES; left -= MAX_NAME_SEGMENT_BYTES) segments.push('a'.repeat(MAX_NAME_SEGMENT_BYTES - 1));
  return [...segments, 'a'.repeat(left)].join('/');
}

const USAGE = 'usage';
const refusedAsNotFound = (path: string) => {
  assert.throws(
    () => parseCoordinates(path, USAGE),
    (e: any) => e.kind === 'not-found' && e.code === 'IMAGE_NOT_FOUND' && e.message === USAGE,
    JSON.stringify(path),
  );
};

describe('coordinates from URLs', () => {
  test('parses what a push could have published, latest included', () => {
    assert.deepEqual(parseCoordinates('localhost/team/app/1.0.0/linux/amd64', USAGE), {
      name: 'localhost/team/app',
      version: '1.0.0',
      os: 'linux',
      arch: 'amd64',
    });
    assert.equal(parseCoordinates('localhost/app/latest/darwin/x86_64', USAGE).version, 'latest');
  });

  test('refuses every path trick as not found', () => {
    for (const path of [
      'localhost/app/../linux/amd64',
      'localhost/../app/1.0.0/linux/amd64',
      'localhost//app/1.0.0/linux/amd64',
      'localhost/./app/1.0.0/linux/amd64',
      '/localhost/app/1.0.0/linux/amd64',
      'localhost/app/1.0\0/linux/amd64',
      'localhost/app/1.0\\x/linux/amd64',
      'localhost\\app/1.0.0/linux/amd64',
      'localhost/app/.hidden/linux/amd64',
      'localhost/app/1.0.0/linux/x86_64',
      'localhost/app/1.0.0/constructor/amd64',
      'Localhost/app/1.0.0/linux/amd64',
      'app/1.0.0/linux',
      '',
      `localhost/${'a'.repeat(MAX_NAME_SEGMENT_BYTES + 1)}/1.0.0/linux/amd64`,
      `${nameOf(MAX_NAME_BYTES + 1)}/1.0.0/linux/amd64`,
      `localhost/app/${'1'.repeat(MAX_LABEL_BYTES + 1)}/linux/amd64`,
    ]) {
      refusedAsNotFound(path);
    }
  });

  test('names are held to the lengths storage holds', async () => {
    assert.ok(isImageName(nameOf(MAX_NAME_BYTES)));
    assert.ok(!isImageName(nameOf(MAX_NAME_BYTES + 1)));
    assert.ok(isImageName(`localhost/${'a'.repeat(MAX_NAME_SEGMENT_BYTES)}`));
    assert.ok(!isImageName(`localhost/${'a'.repeat(MAX_NAME_SEGMENT_BYTES + 1)}`));
    const e = await rejectsWith(
      Promise.resolve().then(() => assertNameFits(nameOf(MAX_NAME_BYTES + 1))),
      'NAME_TOO_LONG',
      'invalid',
    );
    assert.match(e.message, /at most 512 bytes, each \/-separated part at most 255/);
  });

  test('an acpush start URL is refused as a push would be', async () => {
    const target = (path: string) => Promise.resolve().then(() => parsePushTarget(path, USAGE));
    assert.deepEqual(await target('localhost/app/latest/linux/amd64'), {
      name: 'localhost/app',
      version: 'latest',
      os: 'linux',
      arch: 'amd64',
    });
    await rejectsWith(target('app/linux/amd64'), 'ACPUSH_URL_INVALID', 'not-found');
    await rejectsWith(target(`${nameOf(MAX_NAME_BYTES + 1)}/1.0.0/linux/amd64`), 'NAME_TOO_LONG', 'invalid');
    await rejectsWith(target('localhost//app/1.0.0/linux/amd64'), 'ACPUSH_NAME_INVALID', 'invalid');
    await rejectsWith(target(`localhost/app/${'1'.repeat(MAX_LABEL_BYTES + 1)}/linux/amd64`), 'LABEL_TOO_LONG', 'invalid');
    await rejectsWith(target('localhost/app/../linux/amd64'), 'ACPUSH_LABELS_INVALID', 'invalid');
    await rejectsWith(target('localhost/app/1.0.0/linux/x86_64'), 'ACPUSH_LABELS_INVALID', 'invalid');
  });

  test('a manifest label over the limit is refused, naming the limit', async () => {
    const labels = (os: string) => parseManifest(Buffer.from(manifestJson('localhost/app', '1.0.0', os)));
    const e = await rejectsWith(
      Promise.resolve().then(() => publishLabels(labels('l'.repeat(MAX_LABEL_BYTES + 1)))),
      'LABEL_TOO_LONG',
      'invalid',
    );
    assert.match(e.message, /the os label is 129 bytes.*at most 128 bytes/);
  });

  test('the longest coordinates make keys both backends hold', async () => {
    // S3: 1024-byte keys, with room left for the configured key prefix.
    assert.ok(LONGEST_IMAGE_KEY_BYTES + MAX_S3_PREFIX_BYTES === 1024 && MAX_S3_PREFIX_BYTES >= 256);
    // Filesystem: every segment within NAME_MAX, and a real write, read and listing at those keys.
    const dir = await tempDir('acihost-longest-');
    const storage = new CheckedStorage(new FsStorage(dir));
    const c = { name: nameOf(MAX_NAME_BYTES), version: 'v'.repeat(MAX_LABEL_BYTES), os: 'linux', arch: 'aarch64_be' };
    for (const key of [layout.versionRecord(c), layout.tombstone(c), layout.recordTombstone(c, layout.blob('f'.repeat(32)))]) {
      assert.ok(
        key.split('/').every((s) => Buffer.byteLength(s) <= 255),
        key,
      );
      await storage.put(key, Buffer.from('{}'));
      assert.equal((await storage.get(key))?.toString(), '{}');
    }
    const listed: string[] = [];
    for await (const o of storage.list(`${layout.images}${c.name}/_v/`)) listed.push(o.key);
    assert.deepEqual(listed, [layout.versionRecord(c)]);
    await storage.close();
  });

  test('storage.s3.prefix leaves room for the longest image key', () => {
    const env = { ACIHOST_STORAGE_BACKEND: 's3', ACIHOST_S3_BUCKET: 'b', ACIHOST_S3_PREFIX: 'p'.repeat(MAX_S3_PREFIX_BYTES + 1) };
    assert.throws(() => loadConfig({ env }), new RegExp(`prefix.*must be at most ${MAX_S3_PREFIX_BYTES} bytes`, 's'));
    assert.doesNotThrow(() => loadConfig({ env: { ...env, ACIHOST_S3_PREFIX: 'p'.repeat(MAX_S3_PREFIX_BYTES) } }));
  });
});
