/**
 * Fetching from a real registry: manifests of both formats and indexes of both
 * kinds, by tag and by digest, blobs streamed and checked, and what the registry's
 * storage holds tampered with.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DistributionClient } from '../../src/upstream/distribution-client.ts';
import { parseManifestDocument } from '../../src/upstream/manifest-document.ts';
import { parseImageConfig } from '../../src/upstream/image-config.ts';
import {
  DOCKER_CONFIG,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
} from '../../src/upstream/media-types.ts';
import { isAcihostError } from '../../src/errors.ts';
import { buildSmallImage, pushIndex, pushLayout, startUpstreamRegistry, type UpstreamRegistry } from '../helpers/upstream-registry.ts';

let registry: UpstreamRegistry;
const pushed: Record<string, string> = {};
const clients: DistributionClient[] = [];

const client = (repository: string): DistributionClient => {
  const c = new DistributionClient({
    registry: registry.host,
    repository,
    ca: registry.caPem,
    timeouts: { connectMs: 5000, idleMs: 5000 },
    maxManifestBytes: 4 * 1024 * 1024,
    userAgent: 'acihost-test',
  });
  clients.push(c);
  return c;
};

const readAll = async (stream: Readable): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

before(async () => {
  registry = await startUpstreamRegistry({});
  const amd64 = await buildSmallImage({
    files: { 'etc/motd': 'amd64\n' },
    entrypoint: ['/bin/app', '--serve'],
    env: ['MODE=test'],
    user: '1000',
  });
  const arm = await buildSmallImage({ files: { 'etc/motd': 'arm\n' }, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } });
  pushed.v2s2 = await pushLayout(registry, amd64.layoutDir, amd64.tag, 'team/small:v2s2', { format: 'v2s2' });
  pushed.oci = await pushLayout(registry, amd64.layoutDir, amd64.tag, 'team/small:oci', { format: 'oci' });
  pushed.tamper = await pushLayout(registry, arm.layoutDir, arm.tag, 'team/tamper:1', { format: 'oci' });
  const platforms = [
    { ...amd64, platform: { os: 'linux', architecture: 'amd64' } },
    { ...arm, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
  ];
  pushed.index = (await pushIndex(registry, 'team/multi', 'oci', platforms, { format: 'oci' })).digest;
  pushed.list = (await pushIndex(registry, 'team/multi', 'list', platforms, { format: 'v2s2' })).digest;
});

after(async () => {
  for (const c of clients) c.close();
  await registry?.stop();
});

test('a Docker v2s2 manifest by tag: its digest, config and layers', async () => {
  const small = client('team/small');
  const fetched = await small.manifest('v2s2');
  assert.equal(fetched.mediaType, DOCKER_MANIFEST);
  assert.equal(fetched.digest, pushed.v2s2);
  assert.equal(sha256(fetched.bytes), pushed.v2s2);
  const doc = parseManifestDocument(fetched);
  assert.equal(doc.kind, 'manifest');
  if (doc.kind !== 'manifest') return;
  assert.equal(doc.config.mediaType, DOCKER_CONFIG);
  assert.deepEqual(
    doc.layers.map((l) => l.mediaType),
    ['application/vnd.docker.image.rootfs.diff.tar.gzip'],
  );
  const config = parseImageConfig(await readAll(await small.blob(doc.config)), doc.config.digest);
  assert.equal(config.architecture, 'amd64');
  assert.equal(config.os, 'linux');
  assert.deepEqual(config.config.Entrypoint, ['/bin/app', '--serve']);
  assert.ok(config.config.Env?.includes('MODE=test'));
  assert.equal(config.config.User, '1000');
  const layer = await readAll(await small.blob(doc.layers[0]!));
  assert.equal(sha256(layer), doc.layers[0]!.digest);
  assert.equal(layer.length, doc.layers[0]!.size);
});

test('an OCI manifest by tag and by digest gives the same bytes', async () => {
  const small = client('team/small');
  const byTag = await small.manifest('oci');
  assert.equal(byTag.mediaType, OCI_MANIFEST);
  const byDigest = await small.manifest(pushed.oci!);
  assert.deepEqual(byDigest.bytes, byTag.bytes);
  assert.equal(byDigest.digest, pushed.oci);
  const doc = parseManifestDocument(byDigest);
  assert.ok(doc.kind === 'manifest' && doc.config.mediaType === OCI_CONFIG);
  assert.equal(doc.kind === 'manifest' && doc.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
});

for (const [tag, mediaType] of [
  ['oci', OCI_INDEX],
  ['list', DOCKER_MANIFEST_LIST],
] as const) {
  test(`a multi-platform image as ${mediaType}: platforms and each manifest by digest`, async () => {
    const multi = client('team/multi');
    const fetched = await multi.manifest(tag);
    assert.equal(fetched.mediaType, mediaType);
    assert.equal(fetched.digest, tag === 'oci' ? pushed.index : pushed.list);
    const doc = parseManifestDocument(fetched);
    assert.equal(doc.kind, 'index');
    if (doc.kind !== 'index') return;
    assert.deepEqual(
      doc.manifests.map((m) => m.platform),
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm', variant: 'v7' },
      ],
    );
    const arm = await multi.manifest(doc.manifests[1]!.digest);
    const armDoc = parseManifestDocument(arm);
    assert.equal(armDoc.kind, 'manifest');
    if (armDoc.kind !== 'manifest') return;
    const config = parseImageConfig(await readAll(await multi.blob(armDoc.config)));
    assert.deepEqual([config.architecture, config.variant], ['arm', 'v7']);
  });
}

test('an unknown tag or digest is not-found, naming the repository and registry', async () => {
  await assert.rejects(client('team/small').manifest('nope'), (e: unknown) => {
    assert.ok(isAcihostError(e));
    assert.equal(e.code, 'UPSTREAM_NOT_FOUND');
    assert.equal(e.kind, 'not-found');
    assert.match(e.message, new RegExp(`^no tag nope in team/small at ${registry.host}`));
    return true;
  });
  await assert.rejects(client('team/absent').manifest('latest'), { code: 'UPSTREAM_NOT_FOUND' });
  await assert.rejects(client('team/small').manifest(`sha256:${'0'.repeat(64)}`), {
    code: 'UPSTREAM_NOT_FOUND',
    message: /no manifest sha256:0+ in/,
  });
});

test('a blob altered in the registry fails its stream with the digest error, never ends cleanly', async () => {
  const tamper = client('team/tamper');
  const doc = parseManifestDocument(await tamper.manifest('1'));
  assert.equal(doc.kind, 'manifest');
  if (doc.kind !== 'manifest') return;
  const layer = doc.layers[0]!;
  const file = registry.blobPath(layer.digest);
  const original = await readFile(file);
  const altered = Buffer.from(original);
  altered[altered.length - 1] = altered.at(-1)! ^ 0xff; // same length: only the digest can tell
  await writeFile(file, altered);
  try {
    const stream = await tamper.blob(layer);
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) received += (chunk as Buffer).length;
      })(),
      (e: unknown) => {
        assert.ok(isAcihostError(e));
        assert.equal(e.code, 'UPSTREAM_DIGEST_MISMATCH');
        assert.equal(e.kind, 'bad-gateway');
        assert.match(e.message, new RegExp(`blob ${layer.digest} of team/tamper at ${registry.host} has digest ${sha256(altered)}`));
        return true;
      },
    );
    assert.ok(received <= layer.size);

    await writeFile(file, Buffer.concat([original, Buffer.from('extra')]));
    await assert.rejects(tamper.blob(layer), { code: 'UPSTREAM_DIGEST_MISMATCH', message: /is \d+ bytes, not the \d+ its manifest says/ });
    // Descriptors are believed only as far as the bytes bear them out.
    await writeFile(file, original);
    await assert.rejects(async () => readAll(await tamper.blob({ ...layer, size: layer.size - 1 })), { code: 'UPSTREAM_DIGEST_MISMATCH' });
  } finally {
    await writeFile(file, original);
  }
  assert.equal(sha256(await readAll(await tamper.blob(layer))), layer.digest);
});

test('a manifest altered in the registry is refused by tag (Docker-Content-Digest) and by digest', async () => {
  const tamper = client('team/tamper');
  const file = registry.blobPath(pushed.tamper!);
  const original = await readFile(file);
  // Same JSON, other bytes: a space more.
  await writeFile(file, Buffer.concat([Buffer.from(' '), original]));
  assert.notDeepEqual(await readFile(file), original, 'the manifest was altered');
  try {
    await assert.rejects(tamper.manifest('1'), { code: 'UPSTREAM_DIGEST_MISMATCH', message: /has digest sha256:\w+, not sha256:/ });
    await assert.rejects(tamper.manifest(pushed.tamper!), { code: 'UPSTREAM_DIGEST_MISMATCH' });
  } finally {
    await writeFile(file, original);
  }
});

test('a manifest over the size cap is refused before it is read whole', async () => {
  const small = new DistributionClient({
    registry: registry.host,
    repository: 'team/small',
    ca: registry.caPem,
    timeouts: { connectMs: 5000, idleMs: 5000 },
    maxManifestBytes: 100,
    userAgent: 'acihost-test',
  });
  clients.push(small);
  await assert.rejects(small.manifest('oci'), { code: 'UPSTREAM_MANIFEST_TOO_LARGE', message: /over 100 bytes/ });
});
