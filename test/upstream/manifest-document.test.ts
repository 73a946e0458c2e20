/** Reading manifests and image configs: what converts, and what is refused with a reason. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifestDocument } from '../../src/upstream/manifest-document.ts';
import { parseImageConfig } from '../../src/upstream/image-config.ts';
import { isAcihostError } from '../../src/errors.ts';

const d = (n: string, mediaType: string, extra: object = {}) => ({ mediaType, digest: `sha256:${n.repeat(64)}`, size: 10, ...extra });
const CONFIG = d('c', 'application/vnd.oci.image.config.v1+json');
const fetched = (body: unknown, mediaType = 'application/vnd.oci.image.manifest.v1+json') => ({
  mediaType,
  digest: `sha256:${'f'.repeat(64)}`,
  bytes: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
});
const refused = (code: string, pattern: RegExp) => (e: unknown) => isAcihostError(e) && e.code === code && pattern.test(e.message);

test('layers of every accepted type; the served type stands in when the document names none', () => {
  const types = [
    'application/vnd.oci.image.layer.v1.tar',
    'application/vnd.oci.image.layer.v1.tar+gzip',
    'application/vnd.oci.image.layer.v1.tar+zstd',
    'application/vnd.docker.image.rootfs.diff.tar.gzip',
  ];
  const doc = parseManifestDocument(fetched({ schemaVersion: 2, config: CONFIG, layers: types.map((t, i) => d(String(i), t)) }));
  assert.equal(doc.kind, 'manifest');
  assert.equal(doc.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.deepEqual(doc.kind === 'manifest' && doc.layers.map((l) => l.mediaType), types);
  const index = parseManifestDocument(
    fetched(
      { schemaVersion: 2, manifests: [d('a', 'x', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } })] },
      'application/json',
    ),
  );
  assert.deepEqual(index, {
    kind: 'index',
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ ...d('a', 'x'), platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }],
  });
});

test('refused with a reason', () => {
  const cases: [unknown, string, string, RegExp][] = [
    [{ schemaVersion: 1, name: 'a', fsLayers: [] }, 'application/json', 'UPSTREAM_MANIFEST_UNSUPPORTED', /Docker schema 1/],
    ['{}', 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'UPSTREAM_MANIFEST_UNSUPPORTED', /Docker schema 1/],
    [
      { schemaVersion: 2, config: CONFIG, layers: [d('1', 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip')] },
      '',
      'UPSTREAM_LAYER_UNSUPPORTED',
      /foreign layer/,
    ],
    [
      { schemaVersion: 2, config: CONFIG, layers: [d('1', 'application/vnd.oci.image.layer.v1.tar', { urls: ['https://x'] })] },
      '',
      'UPSTREAM_LAYER_UNSUPPORTED',
      /foreign layer/,
    ],
    [
      { schemaVersion: 2, config: CONFIG, layers: [d('1', 'application/vnd.oci.image.layer.v1.tar+bzip2')] },
      '',
      'UPSTREAM_LAYER_UNSUPPORTED',
      /gzip or zstd/,
    ],
    [
      { schemaVersion: 2, config: d('c', 'application/vnd.cncf.helm.config.v1+json'), layers: [] },
      '',
      'UPSTREAM_MANIFEST_UNSUPPORTED',
      /not a container image/,
    ],
    [
      { schemaVersion: 2, mediaType: 'application/vnd.example+json', config: CONFIG, layers: [] },
      '',
      'UPSTREAM_MANIFEST_UNSUPPORTED',
      /application\/vnd.example\+json/,
    ],
    [
      { schemaVersion: 2, config: { ...CONFIG, digest: 'md5:abc' }, layers: [] },
      '',
      'UPSTREAM_MANIFEST_INVALID',
      /config\.digest must be sha256/,
    ],
    [{ schemaVersion: 2, config: { ...CONFIG, size: -1 }, layers: [] }, '', 'UPSTREAM_MANIFEST_INVALID', /config\.size/],
    ['{"schemaVersion":', '', 'UPSTREAM_MANIFEST_INVALID', /is not JSON/],
  ];
  for (const [body, served, code, pattern] of cases) {
    assert.throws(() => parseManifestDocument(fetched(body, served || undefined)), refused(code, pattern), JSON.stringify(body));
  }
});

test('an image config: Docker nulls read as absent, fields typed', () => {
  const config = parseImageConfig(
    Buffer.from(
      JSON.stringify({
        architecture: 'arm',
        variant: 'v7',
        os: 'linux',
        created: '2024-01-01T00:00:00Z',
        author: 'someone',
        config: {
          User: 'app',
          Env: ['A=1'],
          Entrypoint: null,
          Cmd: ['sh'],
          WorkingDir: '/srv',
          ExposedPorts: { '80/tcp': {} },
          Volumes: null,
          Labels: { a: 'b' },
        },
        rootfs: { type: 'layers', diff_ids: [`sha256:${'a'.repeat(64)}`] },
      }),
    ),
  );
  assert.deepEqual(config, {
    architecture: 'arm',
    os: 'linux',
    variant: 'v7',
    created: '2024-01-01T00:00:00Z',
    author: 'someone',
    config: { User: 'app', Env: ['A=1'], Cmd: ['sh'], WorkingDir: '/srv', ExposedPorts: { '80/tcp': {} }, Labels: { a: 'b' } },
    diffIds: [`sha256:${'a'.repeat(64)}`],
  });
  assert.deepEqual(parseImageConfig(Buffer.from('{"architecture":"amd64","os":"linux"}')).config, {});
  assert.throws(() => parseImageConfig(Buffer.from('{"os":"linux"}')), refused('UPSTREAM_MANIFEST_INVALID', /architecture is required/));
  assert.throws(
    () => parseImageConfig(Buffer.from('{"architecture":"amd64","os":"linux","config":{"Env":"A=1"}}')),
    refused('UPSTREAM_MANIFEST_INVALID', /config\.Env/),
  );
});
