import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseManifest } from '../../src/aci/manifest.ts';
import { rejectsWith } from './support.ts';

const base = {
  acKind: 'ImageManifest',
  acVersion: '0.8.11',
  name: 'example.com/app',
  labels: [
    { name: 'version', value: '1.0.0' },
    { name: 'os', value: 'linux' },
    { name: 'arch', value: 'amd64' },
  ],
};

const parse = (m: unknown) => parseManifest(Buffer.from(typeof m === 'string' ? m : JSON.stringify(m)));
const refuses = (m: unknown) =>
  rejectsWith(
    Promise.resolve().then(() => parse(m)),
    'MANIFEST_INVALID',
    'invalid',
  );

const app = { exec: ['/bin/app'], user: '0', group: '0' };

describe('parseManifest: accepted manifests', () => {
  test('a minimal manifest', () => {
    const m = parse(base);
    assert.equal(m.name, 'example.com/app');
    assert.equal(m.labels?.length, 3);
  });

  test('a full manifest', () => {
    const m = parse({
      ...base,
      app: {
        ...app,
        eventHandlers: [
          { name: 'pre-start', exec: ['/bin/prep'] },
          { name: 'post-stop', exec: ['/bin/clean'] },
        ],
        supplementaryGIDs: [10, 20],
        workingDirectory: '/srv',
        environment: [
          { name: 'PATH', value: '/bin' },
          { name: 'my.var-1_X', value: '' },
        ],
        isolators: [
          { name: 'resource/memory', value: { limit: '1G' } },
          { name: 'os/linux/capabilities-retain-set', value: { set: ['CAP_NET_BIND_SERVICE'] } },
        ],
        mountPoints: [{ name: 'data', path: '/var/data', readOnly: true }],
        ports: [
          { name: 'http', protocol: 'tcp', port: 8080, count: 2, socketActivated: false },
          { name: 'dns', protocol: 'udp', port: 53 },
        ],
      },
      dependencies: [
        { imageName: 'example.com/base', imageID: `sha512-${'a'.repeat(128)}`, labels: [{ name: 'os', value: 'linux' }], size: 1024 },
      ],
      pathWhitelist: ['/etc/app.conf', '/bin/app'],
      annotations: [
        { name: 'created', value: '2024-02-29T23:59:59.123+01:00' },
        { name: 'homepage', value: 'https://example.com/' },
        { name: 'documentation', value: 'http://example.com/docs' },
        { name: 'authors', value: 'someone' },
      ],
    });
    assert.equal(m.app?.user, '0');
    assert.equal(m.app?.ports?.[1]?.count, undefined);
    assert.equal(m.annotations?.length, 4);
  });

  test('null optional fields count as absent, as in the classic tutorial', () => {
    const m = parse({
      ...base,
      app: { ...app, eventHandlers: null, environment: null, ports: null },
      annotations: null,
      dependencies: null,
    });
    assert.equal(m.app?.eventHandlers, undefined);
    assert.equal(m.annotations, undefined);
    assert.equal(parse({ ...base, app: null, labels: null }).app, undefined);
  });

  test('acVersion may be any non-zero semver', () => {
    for (const v of ['0.0.1', '0.5.1', '0.8.11', '1.0.0', '0.1.0-rc.1', '0.0.0-dev']) parse({ ...base, acVersion: v });
  });

  test('unknown fields are ignored, as the Go schema does, and kept', () => {
    const m = parse({ ...base, futureField: { a: 1 }, app: { ...app, somethingNew: true } });
    assert.deepEqual((m as Record<string, unknown>).futureField, { a: 1 });
  });

  test('a label without a value reads as the empty string, as in Go', () => {
    const m = parse({ ...base, labels: [{ name: 'channel' }] });
    assert.equal(m.labels?.[0]?.value, '');
  });
});

describe('parseManifest: refused manifests', () => {
  test('not JSON, or not an object', async () => {
    await refuses('{"acKind": ');
    await refuses('');
    await refuses('[1,2]');
    await refuses('"ImageManifest"');
    await refuses(Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from(JSON.stringify(base))]).toString('latin1'));
  });

  test('deep nesting gives MANIFEST_INVALID, not a RangeError', async () => {
    const deep = `{"acKind":"ImageManifest","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const e = await refuses(deep);
    assert.match(e.message, /deeper than 64/);
  });

  test('brackets inside strings do not count as nesting', () => {
    parse({ ...base, annotations: [{ name: 'note', value: `${'['.repeat(1000)}\\"{{{{` }] });
  });

  test('nesting just under the limit is fine', () => {
    let value: unknown = 1;
    for (let i = 0; i < 60; i++) value = [value];
    parse({ ...base, app: { ...app, isolators: [{ name: 'x/y', value }] } });
  });

  test('acKind must be ImageManifest', async () => {
    const e = await refuses({ ...base, acKind: 'PodManifest' });
    assert.match(e.message, /manifest\.acKind: must be "ImageManifest"/);
    await refuses({ ...base, acKind: undefined });
  });

  test('acVersion must be a non-zero semver', async () => {
    for (const v of ['0.0.0', '', 'v0.8.11', '0.8', ' 0.8.11', 'latest', null, 8]) {
      const e = await refuses({ ...base, acVersion: v });
      assert.match(e.message, /manifest\.acVersion/);
    }
  });

  test('name must be an AC identifier', async () => {
    for (const n of ['Example.com/app', 'example.com:443/app', '', null, 'a//b']) {
      const e = await refuses({ ...base, name: n });
      assert.match(e.message, /manifest\.name: /);
    }
  });

  test('labels: AC identifier names, unique, never "name"; every path is reported', async () => {
    const e = await refuses({
      ...base,
      labels: [
        { name: 'os', value: 'linux' },
        { name: 'Bad Name', value: 'x' },
        { name: 'os', value: 'darwin' },
        { name: 'name', value: 'y' },
      ],
    });
    assert.match(e.message, /manifest\.labels\[1\]\.name: must be an AC Identifier/);
    assert.match(e.message, /manifest\.labels\[2\]\.name: duplicate label name "os"/);
    assert.match(e.message, /manifest\.labels\[3\]\.name: a label may not be called "name"/);
    assert.match(e.message, /actool validate/);
    await refuses({ ...base, labels: [{ name: 'os', value: 3 }] });
    await refuses({ ...base, labels: { os: 'linux' } });
  });

  test('app needs user and group', async () => {
    let e = await refuses({ ...base, app: { exec: ['/x'], group: '0' } });
    assert.match(e.message, /manifest\.app\.user: is required/);
    e = await refuses({ ...base, app: { exec: ['/x'], user: '0', group: '' } });
    assert.match(e.message, /manifest\.app\.group: is required/);
    await refuses({ ...base, app: { ...app, user: 0 } });
  });

  test('app.exec is a list of strings; workingDirectory is absolute', async () => {
    await refuses({ ...base, app: { ...app, exec: '/bin/app' } });
    await refuses({ ...base, app: { ...app, exec: ['/bin/app', 3] } });
    const e = await refuses({ ...base, app: { ...app, workingDirectory: 'srv' } });
    assert.match(e.message, /manifest\.app\.workingDirectory: must be an absolute path/);
  });

  test('event handlers are pre-start or post-stop, each once', async () => {
    let e = await refuses({ ...base, app: { ...app, eventHandlers: [{ name: 'on-start', exec: ['/x'] }] } });
    assert.match(e.message, /manifest\.app\.eventHandlers\[0\]\.name/);
    e = await refuses({ ...base, app: { ...app, eventHandlers: [{ name: 'pre-start' }, { name: 'pre-start' }] } });
    assert.match(e.message, /manifest\.app\.eventHandlers\[1\]\.name: duplicate event handler/);
  });

  test('environment names use letters, digits, _ . and -', async () => {
    for (const name of ['A B', 'A=B', '', 'ÄB']) {
      const e = await refuses({ ...base, app: { ...app, environment: [{ name, value: 'x' }] } });
      assert.match(e.message, /manifest\.app\.environment\[0\]\.name/);
    }
  });

  test('isolator names are AC identifiers; any JSON value', async () => {
    parse({
      ...base,
      app: {
        ...app,
        isolators: [
          { name: 'x/y', value: [1, 'two', null] },
          { name: 'z', value: 3 },
        ],
      },
    });
    const e = await refuses({ ...base, app: { ...app, isolators: [{ name: 'Resource/CPU', value: {} }] } });
    assert.match(e.message, /manifest\.app\.isolators\[0\]\.name/);
  });

  test('mount point and port names are AC names', async () => {
    let e = await refuses({ ...base, app: { ...app, mountPoints: [{ name: 'my.data', path: '/d' }] } });
    assert.match(e.message, /manifest\.app\.mountPoints\[0\]\.name: must be an AC Name/);
    e = await refuses({ ...base, app: { ...app, ports: [{ name: 'http/alt', protocol: 'tcp', port: 80 }] } });
    assert.match(e.message, /manifest\.app\.ports\[0\]\.name/);
    await refuses({ ...base, app: { ...app, mountPoints: [{ name: 'data' }] } });
  });

  test('ports need a protocol, a port in 1-65535 and a count of at least 1', async () => {
    const port = { name: 'http', protocol: 'tcp', port: 80 };
    for (const [bad, field] of [
      [{ ...port, protocol: undefined }, 'protocol'],
      [{ ...port, port: 0 }, 'port'],
      [{ ...port, port: 65536 }, 'port'],
      [{ ...port, port: 80.5 }, 'port'],
      [{ ...port, count: 0 }, 'count'],
      [{ ...port, port: 65535, count: 2 }, 'count'],
    ] as const) {
      const e = await refuses({ ...base, app: { ...app, ports: [bad] } });
      assert.match(e.message, new RegExp(`manifest\\.app\\.ports\\[0\\]\\.${field}`));
    }
  });

  test('dependencies need an imageName; an imageID is sha512-hex', async () => {
    let e = await refuses({ ...base, dependencies: [{ imageID: `sha512-${'a'.repeat(128)}` }] });
    assert.match(e.message, /manifest\.dependencies\[0\]\.imageName/);
    for (const id of ['sha256-abcd', `sha512-${'a'.repeat(129)}`, 'sha512-', 'sha512-ABCD']) {
      e = await refuses({ ...base, dependencies: [{ imageName: 'example.com/base', imageID: id }] });
      assert.match(e.message, /manifest\.dependencies\[0\]\.imageID/);
    }
    e = await refuses({ ...base, dependencies: [{ imageName: 'example.com/base', labels: [{ name: 'name', value: 'x' }] }] });
    assert.match(e.message, /manifest\.dependencies\[0\]\.labels\[0\]\.name/);
  });

  test('pathWhitelist entries are absolute', async () => {
    const e = await refuses({ ...base, pathWhitelist: ['/ok', 'relative'] });
    assert.match(e.message, /manifest\.pathWhitelist\[1\]: must be an absolute path/);
  });

  test('annotations: unique AC identifier names, string values, typed well-known ones', async () => {
    const bad = async (annotations: unknown[], path: RegExp) => assert.match((await refuses({ ...base, annotations })).message, path);
    await bad(
      [
        { name: 'a', value: '1' },
        { name: 'a', value: '2' },
      ],
      /manifest\.annotations\[1\]\.name: duplicate annotation/,
    );
    await bad([{ name: 'Bad', value: '1' }], /manifest\.annotations\[0\]\.name/);
    await bad([{ name: 'a', value: 1 }], /manifest\.annotations\[0\]\.value/);
    for (const created of ['2024-02-30T00:00:00Z', '2024-01-01 00:00:00Z', '2024-01-01T00:00:00', '2024-01-01T25:00:00Z', 'yesterday']) {
      await bad([{ name: 'created', value: created }], /manifest\.annotations\[0\]\.value: must be an RFC 3339/);
    }
    await bad([{ name: 'homepage', value: 'ftp://example.com' }], /manifest\.annotations\[0\]\.value: must be an http/);
    await bad([{ name: 'documentation', value: 'example.com/docs' }], /manifest\.annotations\[0\]\.value: must be an http/);
  });

  test('lists every problem, each with its path', async () => {
    const e = await refuses({ acKind: 'ImageManifest', acVersion: '0.0.0', name: 'BAD', pathWhitelist: ['x'] });
    for (const p of ['acVersion', 'name', 'pathWhitelist[0]']) assert.ok(e.message.includes(`manifest.${p}:`), p);
  });

  test('a flood of problems is summarised, not listed in full', async () => {
    const labels = Array.from({ length: 5000 }, () => ({ name: 'BAD', value: 'x' }));
    const e = await refuses({ ...base, labels });
    assert.ok(e.message.length < 5000, `message is ${e.message.length} chars`);
    assert.match(e.message, /and \d+ more problem/);
  });
});
