/**
 * Images built with umoci, converted, and compared entry by entry with what
 * `umoci unpack` makes of them; every ACI must also pass actool and the
 * server's own inspector.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { buffer } from 'node:stream/consumers';
import { convertImage } from '../../src/convert/convert-image.ts';
import { buildStandardImages, STANDARD_IMAGES, unpackImage } from '../helpers/oci-images.ts';
import { OciLayoutSource, readImage } from '../helpers/oci-layout-source.ts';
import { compareTrees, readAci, readDiskTree } from '../helpers/rootfs-oracle.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { inspect } from '../aci/support.ts';

const LIMITS = { maxUncompressedBytes: 64 * 1024 * 1024, maxEntries: 10_000, maxPathBytes: 4096 };

let work: string;
let layout: string;
let source: OciLayoutSource;
let scratch: string;

before(async () => {
  work = await tempDir('acihost-convert-');
  layout = await buildStandardImages(work);
  source = new OciLayoutSource(layout, 'registry.example.com', 'team/app');
  scratch = await tempDir('acihost-convert-scratch-');
});

async function convert(tag: string) {
  const image = await readImage(source, tag);
  const converted = await convertImage({
    source,
    manifest: image.manifest,
    config: image.config,
    name: 'example.com/team/app',
    version: '1.0.0',
    sourceInfo: {
      registry: source.registry,
      repository: source.repository,
      tag,
      manifestDigest: image.manifestDigest,
      configDigest: image.manifest.config.digest,
    },
    limits: LIMITS,
    scratchDir: scratch,
    compressionLevel: 6,
  });
  const aci = await buffer(converted.aci);
  return { aci, manifest: converted.manifest, image };
}

function actoolValidate(aci: Buffer, name: string): void {
  const file = join(work, `${name}.aci`);
  writeFileSync(file, aci);
  execFileSync('actool', ['validate', file], { stdio: 'pipe' });
}

for (const tag of Object.values(STANDARD_IMAGES)) {
  test(`${tag}: the ACI's rootfs is what umoci unpacks, and actool and the inspector accept it`, async () => {
    const { aci } = await convert(tag);
    const expected = readDiskTree(unpackImage(layout, tag, join(work, `bundle-${tag}`)));
    const got = await readAci(aci);
    assert.deepEqual(compareTrees(expected, got.tree), []);
    assert.equal(got.names[0], 'manifest', 'the manifest comes first');
    assert.match(got.names[1]!, /^rootfs\/?$/, 'then rootfs');
    actoolValidate(aci, tag);
    const inspected = await inspect(aci);
    assert.equal(inspected.manifest.name, 'example.com/team/app');
    assert.deepEqual(readdirSync(scratch), [], 'the scratch files are gone');
  });
}

test('full: the manifest carries the config the docker2aci way', async () => {
  const { manifest, image } = await convert(STANDARD_IMAGES.full);
  assert.deepEqual(manifest.labels, [
    { name: 'version', value: '1.0.0' },
    { name: 'os', value: 'linux' },
    { name: 'arch', value: image.config.architecture === 'arm64' ? 'aarch64' : image.config.architecture },
  ]);
  const app = manifest.app!;
  assert.deepEqual(app.exec, ['/bin/server', '--listen', ':8080']);
  assert.equal(app.user, '1000');
  assert.equal(app.group, '1000');
  assert.equal(app.workingDirectory, '/srv');
  assert.deepEqual(app.environment, [
    { name: 'PATH', value: '/usr/bin:/bin' },
    { name: 'GREETING', value: 'hello=world' },
  ]);
  assert.deepEqual(app.ports, [
    { name: '53-udp', protocol: 'udp', port: 53 },
    { name: '8080-tcp', protocol: 'tcp', port: 8080 },
  ]);
  assert.deepEqual(app.mountPoints, [
    { name: 'volume-cache', path: '/cache' },
    { name: 'volume-var-lib-data', path: '/var/lib/data' },
  ]);
  const annotations = Object.fromEntries(manifest.annotations!.map((a) => [a.name, a.value]));
  assert.equal(annotations['appc.io/docker/registryurl'], 'registry.example.com');
  assert.equal(annotations['appc.io/docker/repository'], 'team/app');
  assert.equal(annotations['appc.io/docker/tag'], 'full');
  assert.equal(annotations['appc.io/docker/imageid'], image.manifest.config.digest);
  assert.equal(annotations['appc.io/docker/manifesthash'], image.manifestDigest);
  assert.equal(annotations['appc.io/docker/entrypoint'], '["/bin/server"]');
  assert.equal(annotations['appc.io/docker/cmd'], '["--listen",":8080"]');
  assert.equal(annotations['author'], 'Someone <someone@example.com>');
  assert.match(annotations['created']!, /^\d{4}-/);
});

test('plain: an image without a command has no app; named-user runs as the user and its namesake group', async () => {
  assert.equal((await convert(STANDARD_IMAGES.plain)).manifest.app, undefined);
  const { app } = (await convert(STANDARD_IMAGES.namedUser)).manifest;
  assert.deepEqual([app!.user, app!.group, app!.exec], ['daemon', 'daemon', ['/bin/true']]);
});
