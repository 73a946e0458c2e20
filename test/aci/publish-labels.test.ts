import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseManifest, publishLabels } from '../../src/aci/manifest.ts';
import { rejectsWith } from './support.ts';

const withLabels = (labels: { name: string; value?: string }[]) =>
  parseManifest(Buffer.from(JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/app', labels })));

const labelsOf = (version?: string, os?: string, arch?: string) =>
  withLabels(
    [
      { name: 'version', value: version },
      { name: 'os', value: os },
      { name: 'arch', value: arch },
    ].filter((l) => l.value !== undefined),
  );

const publish = (m: ReturnType<typeof withLabels>) => Promise.resolve().then(() => publishLabels(m));

describe('publishLabels', () => {
  test('returns version, os and arch', () => {
    assert.deepEqual(publishLabels(labelsOf('1.0.0', 'linux', 'aarch64')), { version: '1.0.0', os: 'linux', arch: 'aarch64' });
  });

  test('ignores other labels and their order', () => {
    const m = withLabels([
      { name: 'arch', value: 'amd64' },
      { name: 'channel', value: 'beta' },
      { name: 'os', value: 'linux' },
      { name: 'version', value: 'v0.0.1' },
    ]);
    assert.deepEqual(publishLabels(m), { version: 'v0.0.1', os: 'linux', arch: 'amd64' });
  });

  test('each missing label is named, with an example to add', async () => {
    let e = await rejectsWith(publish(labelsOf(undefined, 'linux', 'amd64')), 'MANIFEST_LABEL_MISSING', 'invalid');
    assert.match(e.message, /version/);
    assert.match(e.message, /\{"name":"version","value":"1\.0\.0"\}/);
    e = await rejectsWith(publish(labelsOf('1.0.0')), 'MANIFEST_LABEL_MISSING');
    assert.match(e.message, /\{"name":"os","value":"linux"\}/);
    assert.match(e.message, /\{"name":"arch","value":"amd64"\}/);
    await rejectsWith(publish(withLabels([])), 'MANIFEST_LABEL_MISSING');
    await rejectsWith(
      publish(parseManifest(Buffer.from('{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a"}'))),
      'MANIFEST_LABEL_MISSING',
    );
  });

  test('an empty value counts as missing', async () => {
    await rejectsWith(
      publish(
        withLabels([
          { name: 'version', value: '1' },
          { name: 'os', value: '' },
          { name: 'arch', value: 'amd64' },
        ]),
      ),
      'MANIFEST_LABEL_MISSING',
    );
    await rejectsWith(
      publish(withLabels([{ name: 'version', value: '1' }, { name: 'os' }, { name: 'arch', value: 'amd64' }])),
      'MANIFEST_LABEL_MISSING',
    );
  });

  test('os/arch must be an appc pair; the message names what rkt runs', async () => {
    for (const [os, arch] of [
      ['linux', 'x86_64'],
      ['linux', 'arm64'],
      ['windows', 'amd64'],
      ['darwin', 'amd64'],
    ] as const) {
      const e = await rejectsWith(publish(labelsOf('1.0.0', os, arch)), 'MANIFEST_OS_ARCH_INVALID', 'invalid');
      assert.match(e.message, /rkt runs linux with amd64, i386, aarch64/);
    }
    assert.deepEqual(publishLabels(labelsOf('1', 'darwin', 'x86_64')).arch, 'x86_64');
  });

  test('the version must be publishable', async () => {
    await rejectsWith(publish(labelsOf('latest', 'linux', 'amd64')), 'VERSION_RESERVED', 'invalid');
    await rejectsWith(publish(labelsOf('1.0/evil', 'linux', 'amd64')), 'VERSION_INVALID', 'invalid');
    await rejectsWith(publish(labelsOf('..', 'linux', 'amd64')), 'VERSION_INVALID');
  });
});
