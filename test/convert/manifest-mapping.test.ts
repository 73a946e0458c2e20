/** The config → manifest rules, one class of input at a time; every manifest must pass actool too. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { aciManifest, userAndGroup } from '../../src/convert/aci-manifest-mapping.ts';
import { parseImageConfig } from '../../src/upstream/image-config.ts';
import { indexPlatforms, pickPlatform } from '../../src/convert/platforms.ts';
import type { Descriptor } from '../../src/convert/image-source.ts';
import { isAcihostError } from '../../src/errors.ts';
import { buildAci } from '../helpers/aci-builder.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const SOURCE = {
  registry: 'r.example.com',
  repository: 'lib/app',
  tag: 'v1',
  manifestDigest: 'sha256:' + 'a'.repeat(64),
  configDigest: 'sha256:' + 'b'.repeat(64),
};

/** The manifest of a config as an upstream would serve it, read by the same parser the server uses. */
const map = (config: Record<string, unknown>) =>
  aciManifest({
    name: 'example.com/app',
    version: '1.0.0',
    config: parseImageConfig(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', ...config }))),
    source: SOURCE,
  });

const coded = (code: string) => (e: unknown) => isAcihostError(e) && e.code === code;

test('User forms: none, name, uid, uid:gid, name:group', () => {
  assert.deepEqual(userAndGroup(undefined), { user: '0', group: '0' });
  assert.deepEqual(userAndGroup(''), { user: '0', group: '0' });
  assert.deepEqual(userAndGroup('www'), { user: 'www', group: 'www' });
  assert.deepEqual(userAndGroup('1000'), { user: '1000', group: '1000' });
  assert.deepEqual(userAndGroup('1000:50'), { user: '1000', group: '50' });
  assert.deepEqual(userAndGroup('www:staff'), { user: 'www', group: 'staff' });
  assert.throws(() => userAndGroup(':staff'), coded('CONVERT_CONFIG_UNCONVERTIBLE'));
});

test('architectures: Docker names become appc names; others are refused, naming why', () => {
  const arch = (architecture: string, variant?: string) =>
    map({ architecture, ...(variant && { variant }) }).labels!.find((l) => l.name === 'arch')!.value;
  assert.equal(arch('amd64'), 'amd64');
  assert.equal(arch('arm64'), 'aarch64');
  assert.equal(arch('arm64', 'v8'), 'aarch64');
  assert.equal(arch('arm', 'v7'), 'armv7l');
  assert.equal(arch('arm', 'v6'), 'armv6l');
  assert.equal(arch('386'), 'i386');
  assert.equal(arch('ppc64le'), 'ppc64le');
  assert.equal(arch('s390x'), 's390x');
  for (const [architecture, variant] of [['riscv64'], ['arm'], ['arm', 'v5'], ['mips64le']]) {
    assert.throws(() => arch(architecture!, variant), coded('CONVERT_PLATFORM_UNNAMEABLE'), `${architecture} ${variant}`);
  }
  assert.throws(() => map({ os: 'windows' }), coded('CONVERT_PLATFORM_UNNAMEABLE'));
});

test('exec is Entrypoint then Cmd; neither means no app', () => {
  assert.deepEqual(map({ config: { Entrypoint: ['/e'], Cmd: ['a', 'b'] } }).app?.exec, ['/e', 'a', 'b']);
  assert.deepEqual(map({ config: { Cmd: ['/c'] } }).app?.exec, ['/c']);
  assert.equal(map({ config: { Entrypoint: null, Cmd: [], Env: ['A=1'] } }).app, undefined);
  assert.equal(map({}).app, undefined);
});

test('ports, volumes and environment', () => {
  const app = map({
    config: {
      Cmd: ['/c'],
      ExposedPorts: { '80': {}, '80/tcp': {}, '53/UDP': {} },
      Volumes: { '/var/Data': {}, '/var/data': {}, '/': {} },
      Env: ['A=1', 'B=x=y', 'NOVALUE', 'A=2'],
    },
  }).app!;
  assert.deepEqual(app.ports, [
    { name: '53-udp', protocol: 'udp', port: 53 },
    { name: '80-tcp', protocol: 'tcp', port: 80 },
  ]);
  assert.deepEqual(app.mountPoints, [
    { name: 'volume', path: '/' },
    { name: 'volume-var-data', path: '/var/Data' },
    { name: 'volume-var-data-1', path: '/var/data' },
  ]);
  assert.deepEqual(app.environment, [
    { name: 'A', value: '2' },
    { name: 'B', value: 'x=y' },
  ]);
  assert.throws(() => map({ config: { Cmd: ['/c'], ExposedPorts: { 'http/tcp': {} } } }), coded('CONVERT_CONFIG_UNCONVERTIBLE'));
  assert.throws(() => map({ config: { Cmd: ['/c'], ExposedPorts: { '70000/tcp': {} } } }), coded('CONVERT_CONFIG_UNCONVERTIBLE'));
  assert.throws(() => map({ config: { Cmd: ['/c'], Env: ['MY VAR=1'] } }), coded('CONVERT_CONFIG_UNCONVERTIBLE'));
  assert.throws(() => map({ config: { Cmd: ['/c'], WorkingDir: 'relative' } }), coded('CONVERT_CONFIG_UNCONVERTIBLE'));
});

test('annotations: docker2aci names, digests, no empty values, created only when RFC 3339', () => {
  const names = (m: ReturnType<typeof map>) => Object.fromEntries(m.annotations!.map((a) => [a.name, a.value]));
  const a = names(map({ created: '2024-01-31T12:00:00.123456789Z', author: '' }));
  assert.equal(a['created'], '2024-01-31T12:00:00.123456789Z');
  assert.equal(a['author'], undefined);
  assert.equal(a['appc.io/docker/originalname'], 'r.example.com/lib/app:v1');
  assert.equal(a['appc.io/docker/imageid'], SOURCE.configDigest);
  assert.equal(a['appc.io/docker/manifesthash'], SOURCE.manifestDigest);
  assert.equal(names(map({ created: 'yesterday' }))['created'], undefined);
});

test('an odd config still makes a manifest actool accepts', async () => {
  const manifest = map({
    created: '2024-01-31T12:00:00Z',
    author: 'A <a@example.com>',
    config: {
      Entrypoint: ['/bin/sh', '-c'],
      Cmd: ['echo hi'],
      User: 'nobody:nogroup',
      Env: ['PATH=/bin', 'EMPTY='],
      WorkingDir: '/work',
      ExposedPorts: { '8080/tcp': {}, '9000': {} },
      Volumes: { '/data': {}, '/a--b/__c': {} },
      Labels: { 'org.opencontainers.image.source': 'https://example.com' },
    },
  });
  const file = join(await tempDir('acihost-mapping-'), 'odd.aci');
  writeFileSync(file, await buildAci({ manifest: manifest as Record<string, unknown> }));
  execFileSync('actool', ['validate', file], { stdio: 'pipe' });
});

const d = (architecture: string, variant?: string, os = 'linux', extra: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${architecture}${variant ?? ''}${os}`,
  size: 1,
  platform: { os, architecture, ...(variant && { variant }) },
  ...extra,
});

test('an index: the platforms appc names, those skipped and why, and picking one', () => {
  const manifests = [
    d('amd64'),
    d('arm', 'v7'),
    d('arm64', 'v8'),
    d('riscv64'),
    d('amd64', undefined, 'windows'),
    d('unknown', undefined, 'unknown', { annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } }),
    d('arm64'),
  ];
  const { named, skipped } = indexPlatforms(manifests);
  assert.deepEqual(
    named.map((n) => `${n.platform.os}/${n.platform.arch}`),
    ['linux/amd64', 'linux/armv7l', 'linux/aarch64'],
  );
  assert.equal(skipped.length, 4);
  assert.match(skipped.find((s) => s.descriptor.platform?.architecture === 'riscv64')!.reason, /riscv64/);
  assert.match(skipped.at(-1)!.reason, /earlier/);
  assert.equal(pickPlatform(manifests, { os: 'linux', arch: 'aarch64' }).digest, 'sha256:arm64v8linux');
  assert.throws(
    () => pickPlatform(manifests, { os: 'linux', arch: 's390x' }),
    (e: unknown) => coded('CONVERT_PLATFORM_MISSING')(e) && /amd64/.test(String(e)),
  );
});
